/**
 * Reading the suite's traces back from Jaeger's query API (issue #8): the
 * trace of an order saga by its order id (the order service tags the
 * request that placed it, and the saga's end, with `order.id`), as a flat
 * list of spans with their service and parent resolved, and as a tree.
 *
 * @module
 */

/** A span of a trace, its service and parent resolved. */
export interface TraceSpan {
  traceId: string;
  spanId: string;
  /** The process's OTEL_SERVICE_NAME: `order`, `relay`, `inventory`, … */
  service: string;
  /** `POST /orders`, `publish stock-events`, `handle StockDeductionRequested`, … */
  operation: string;
  /** The parent span's id; null for the root. */
  parentId: string | null;
  /** Start, µs since the epoch. */
  startUs: number;
  durationUs: number;
  tags: Record<string, unknown>;
  /** True when the span's status is an error (`error` tag). */
  error: boolean;
}

interface RawSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references?: { refType: string; spanID: string }[];
  processID: string;
  startTime: number;
  duration: number;
  tags?: { key: string; value: unknown }[];
}
interface RawTrace {
  traceID: string;
  spans: RawSpan[];
  processes: Record<string, { serviceName: string }>;
}

async function query<T>(base: string, path: string): Promise<T | undefined> {
  const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) {
    await res.body?.cancel();
    return undefined;
  }
  return (await res.json() as { data: T }).data;
}

function flatten(t: RawTrace): TraceSpan[] {
  return t.spans.map((s) => {
    const tags = Object.fromEntries((s.tags ?? []).map((x) => [x.key, x.value]));
    return {
      traceId: s.traceID,
      spanId: s.spanID,
      service: t.processes[s.processID]?.serviceName ?? "?",
      operation: s.operationName,
      parentId: s.references?.find((r) => r.refType === "CHILD_OF")?.spanID ?? null,
      startUs: s.startTime,
      durationUs: s.duration,
      tags,
      error: tags.error === true || tags["otel.status_code"] === "ERROR",
    };
  }).sort((a, b) => a.startUs - b.startUs);
}

/** Every span of one trace, by start time; undefined when Jaeger does not have it. */
export async function getTrace(base: string, traceId: string): Promise<TraceSpan[] | undefined> {
  const [t] = await query<RawTrace[]>(base, `/api/traces/${traceId}`) ?? [];
  return t ? flatten(t) : undefined;
}

/**
 * The trace ids of an order's saga, newest first: traces with a span of the
 * order service tagged `order.id`. One, normally (the saga's); a saga whose
 * chain broke shows as more than one.
 */
export async function findOrderTraces(
  base: string,
  orderId: string,
  lookback = "2h",
): Promise<string[]> {
  const tags = encodeURIComponent(JSON.stringify({ "order.id": orderId }));
  const found = await query<RawTrace[]>(
    base,
    `/api/traces?service=order&tags=${tags}&lookback=${lookback}&limit=20`,
  ) ?? [];
  return found
    .map((t) => ({ id: t.traceID, start: Math.min(...t.spans.map((s) => s.startTime)) }))
    .sort((a, b) => a.start - b.start)
    .map((t) => t.id);
}

/** The saga trace of an order: the one holding its `POST /orders` span, else the first found. */
export async function orderTrace(
  base: string,
  orderId: string,
): Promise<TraceSpan[] | undefined> {
  const ids = await findOrderTraces(base, orderId);
  let first: TraceSpan[] | undefined;
  for (const id of ids) {
    const spans = await getTrace(base, id);
    if (!spans) continue;
    first ??= spans;
    if (spans.some((s) => s.service === "order" && s.operation === "POST /orders")) return spans;
  }
  return first;
}

/**
 * The spans as an indented tree, one line each:
 * `+12.3 ms  relay: publish stock-events (4.1 ms)`, children under parents.
 * Spans whose parent is missing from the trace are listed as roots, marked `(orphan)`.
 */
export function formatTree(spans: TraceSpan[]): string {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string | null, TraceSpan[]>();
  for (const s of spans) {
    const key = s.parentId !== null && ids.has(s.parentId) ? s.parentId : null;
    children.set(key, [...children.get(key) ?? [], s]);
  }
  const t0 = Math.min(...spans.map((s) => s.startUs));
  const lines: string[] = [];
  const walk = (parent: string | null, depth: number) => {
    for (const s of children.get(parent) ?? []) {
      const at = ((s.startUs - t0) / 1000).toFixed(1).padStart(8);
      const orphan = parent === null && s.parentId !== null ? " (orphan)" : "";
      const err = s.error ? "  ERROR" : "";
      lines.push(
        `${at} ms  ${"  ".repeat(depth)}${s.service}: ${s.operation} ` +
          `(${(s.durationUs / 1000).toFixed(1)} ms)${err}${orphan}`,
      );
      walk(s.spanId, depth + 1);
    }
  };
  walk(null, 0);
  return lines.join("\n");
}
