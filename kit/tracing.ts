/**
 * Tracing helpers over `@opentelemetry/api` (issue #8). Every process runs
 * with Deno's built-in OpenTelemetry (`OTEL_DENO=true`, `OTEL_SERVICE_NAME`),
 * which registers its tracer and the W3C trace-context propagator with the
 * API by itself; without it every call here is a cheap no-op.
 *
 * One trace per order saga: the HTTP request that placed the order → its
 * outbox rows (`traceparent` in the row's headers, db/outbox.ts) → the
 * relay's `publish` span per event (child of the row's context, its own
 * context in the Kafka record's headers) → each consumer's `handle` span
 * (kit/consumer.ts) → that handler's outbox rows → … → the WebSocket push.
 *
 * @module
 */
import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";

export { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace };
export type { Attributes, Context, Span };

/** The suite's tracer (the instrumentation scope of every span of ours). */
export const tracer = trace.getTracer("shop");

/** The trace context a record's (or row's) string headers carry; ROOT_CONTEXT when none. */
export function contextFromHeaders(headers: Readonly<Record<string, string>>): Context {
  if (!headers.traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, headers);
}

/** True when `ctx` holds a valid remote or local span context. */
export function hasSpan(ctx: Context): boolean {
  const sc = trace.getSpanContext(ctx);
  return sc !== undefined && trace.isSpanContextValid(sc);
}

/** Writes `span`'s context into `headers` (`traceparent`, `tracestate`), replacing any there. */
export function injectSpan(span: Span, headers: Record<string, string>): void {
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), headers);
}

/**
 * For a message about to be sent: a PRODUCER span, child of the trace context
 * `headers` carry, whose own context then replaces it in `headers`. Without a
 * trace context in `headers` (or with telemetry off) there is no span:
 * undefined, and `headers` stay as they are.
 */
export function startProducerSpan(
  name: string,
  headers: Record<string, string>,
  attributes: Attributes,
): Span | undefined {
  if (!headers.traceparent) return undefined;
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  if (!hasSpan(parent)) return undefined;
  const span = tracer.startSpan(name, { kind: SpanKind.PRODUCER, attributes }, parent);
  injectSpan(span, headers);
  return span;
}

/** Marks `span` failed with `err` (status ERROR + an exception event). */
export function failSpan(span: Span, err: unknown, message?: string): void {
  const e = err instanceof Error ? err : new Error(String(err));
  span.recordException(e);
  span.setStatus({ code: SpanStatusCode.ERROR, message: message ?? e.message });
}

/**
 * A span that ends at once, child of the active span: marks a moment of the
 * saga (an order completed, a retry, a dead letter) with its attributes and,
 * when `error` is given, the error.
 */
export function markSpan(
  name: string,
  attributes: Attributes,
  opts: { error?: unknown; errorMessage?: string; kind?: SpanKind; parent?: Context } = {},
): Span {
  const span = tracer.startSpan(
    name,
    { kind: opts.kind ?? SpanKind.INTERNAL, attributes },
    opts.parent ?? context.active(),
  );
  if (opts.error !== undefined) failSpan(span, opts.error, opts.errorMessage);
  span.end();
  return span;
}

/**
 * Runs `fn` inside a new active span (child of `parent`, default the active
 * context); the span ends when `fn` settles and records a thrown error.
 */
export async function inSpan<T>(
  name: string,
  opts: { kind?: SpanKind; attributes?: Attributes; parent?: Context },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return await tracer.startActiveSpan(
    name,
    { kind: opts.kind ?? SpanKind.INTERNAL, attributes: opts.attributes },
    opts.parent ?? context.active(),
    async (span) => {
      try {
        return await fn(span);
      } catch (err) {
        failSpan(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** The active span's trace id, or undefined outside a (sampled) trace. */
export function activeTraceId(): string | undefined {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc && trace.isSpanContextValid(sc) ? sc.traceId : undefined;
}
