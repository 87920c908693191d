/**
 * A saga's OpenTelemetry trace from Jaeger's query API (`/api/traces/<id>`,
 * and `/api/traces?service=&tags=` to find it by the order's `order.id`
 * attribute), turned into what the console draws: a waterfall of spans in
 * tree order, each with its process, offset, duration and whether it failed.
 *
 * @module
 */

/** Jaeger's JSON (the query API's `data[]` items). */
export interface JaegerTrace {
  traceID: string;
  spans: {
    traceID: string;
    spanID: string;
    operationName: string;
    references?: { refType: string; traceID: string; spanID: string }[] | null;
    startTime: number; // µs since the epoch
    duration: number; // µs
    tags?: { key: string; type?: string; value: unknown }[] | null;
    processID: string;
    warnings?: string[] | null;
  }[];
  processes: Record<string, { serviceName: string }>;
}

export interface WaterfallSpan {
  spanId: string;
  parentId: string | null;
  name: string;
  service: string;
  /** Microseconds after the trace's first span started. */
  offsetUs: number;
  durationUs: number;
  depth: number;
  error: boolean;
  /** What made it an error, when a tag says. */
  errorText?: string;
  /** A few telling attributes (http route/status, messaging destination, order id). */
  attributes: Record<string, string>;
}

export interface Waterfall {
  traceId: string;
  startedAt: string;
  durationUs: number;
  spans: WaterfallSpan[];
  /** Per process (service name): how many spans, how many failed. */
  processes: { service: string; spans: number; errors: number }[];
}

const SHOWN_TAGS = [
  "http.request.method",
  "http.method",
  "http.route",
  "url.full",
  "url.path",
  "http.response.status_code",
  "http.status_code",
  "messaging.destination.name",
  "messaging.system",
  "messaging.operation",
  "order.id",
  "event.type",
  "db.operation",
];

function tagMap(tags: JaegerTrace["spans"][number]["tags"]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const t of tags ?? []) out[t.key] = t.value;
  return out;
}

function errorOf(tags: Record<string, unknown>): { error: boolean; text?: string } {
  const status = Number(tags["http.response.status_code"] ?? tags["http.status_code"] ?? 0);
  if (
    tags.error === true || tags.error === "true" ||
    String(tags["otel.status_code"] ?? "").toUpperCase() === "ERROR"
  ) {
    const text = tags["otel.status_description"] ?? tags["error.type"] ?? tags["exception.message"];
    return { error: true, text: text === undefined ? undefined : String(text) };
  }
  if (status >= 500) return { error: true, text: `HTTP ${status}` };
  return { error: false };
}

/** The waterfall of one Jaeger trace: spans depth-first from the roots, children by start. */
export function toWaterfall(t: JaegerTrace): Waterfall {
  const spans = [...t.spans].sort((a, b) => a.startTime - b.startTime);
  const ids = new Set(spans.map((s) => s.spanID));
  const start = spans.length > 0 ? spans[0].startTime : 0;
  const end = spans.reduce((m, s) => Math.max(m, s.startTime + s.duration), start);
  const children = new Map<string | null, typeof spans>();
  const parentOf = new Map<string, string | null>();
  for (const s of spans) {
    const ref = (s.references ?? []).find((r) => ids.has(r.spanID));
    const parent = ref ? ref.spanID : null;
    parentOf.set(s.spanID, parent);
    const list = children.get(parent) ?? [];
    list.push(s);
    children.set(parent, list);
  }
  const out: WaterfallSpan[] = [];
  const seen = new Set<string>();
  const visit = (s: (typeof spans)[number], depth: number) => {
    if (seen.has(s.spanID)) return;
    seen.add(s.spanID);
    const tags = tagMap(s.tags);
    const err = errorOf(tags);
    const attributes: Record<string, string> = {};
    for (const k of SHOWN_TAGS) if (tags[k] !== undefined) attributes[k] = String(tags[k]);
    out.push({
      spanId: s.spanID,
      parentId: parentOf.get(s.spanID) ?? null,
      name: s.operationName,
      service: t.processes[s.processID]?.serviceName ?? s.processID,
      offsetUs: s.startTime - start,
      durationUs: s.duration,
      depth,
      error: err.error,
      ...(err.text ? { errorText: err.text } : {}),
      attributes,
    });
    for (const c of children.get(s.spanID) ?? []) visit(c, depth + 1);
  };
  for (const root of children.get(null) ?? []) visit(root, 0);
  for (const s of spans) visit(s, 0); // a cycle of references: shown flat rather than lost
  const byService = new Map<string, { service: string; spans: number; errors: number }>();
  for (const s of out) {
    const p = byService.get(s.service) ?? { service: s.service, spans: 0, errors: 0 };
    p.spans++;
    if (s.error) p.errors++;
    byService.set(s.service, p);
  }
  return {
    traceId: t.traceID,
    startedAt: new Date(start / 1000).toISOString(),
    durationUs: end - start,
    spans: out,
    processes: [...byService.values()].sort((a, b) => a.service.localeCompare(b.service)),
  };
}

/** Reads Jaeger's query API. */
export class JaegerClient {
  constructor(readonly baseUrl: string, readonly timeoutMs = 5_000) {}

  async #get(path: string): Promise<{ data?: JaegerTrace[] } | undefined> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`Jaeger answered ${res.status} for ${path}`);
    }
    return await res.json() as { data?: JaegerTrace[] };
  }

  /** The trace, or undefined while Jaeger has none of its spans. */
  async trace(traceId: string): Promise<JaegerTrace | undefined> {
    if (!/^[0-9a-f]{16,32}$/.test(traceId)) throw new Error("not a trace id");
    const body = await this.#get(`/api/traces/${traceId}`);
    return body?.data?.[0];
  }

  /**
   * The id of the trace of `service` with the `order.id` attribute, if Jaeger
   * has one. A moment of the saga marked where no span was active (e.g. the
   * deadline sweeper's) is a trace of its own: the one with the most spans is
   * the saga's.
   */
  async findByOrder(service: string, orderId: string): Promise<string | undefined> {
    const tags = encodeURIComponent(JSON.stringify({ "order.id": orderId }));
    const body = await this.#get(
      `/api/traces?service=${encodeURIComponent(service)}&tags=${tags}&limit=20`,
    );
    const traces = [...(body?.data ?? [])].sort((a, b) => b.spans.length - a.spans.length);
    return traces[0]?.traceID;
  }
}
