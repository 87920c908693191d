/**
 * Issue #8: retries and dead letters show in the trace as spans with the
 * error. A consumer process with Deno's built-in OpenTelemetry
 * (fixtures/failing_consumer.ts) fails on a traced event 3 times and
 * dead-letters it; Jaeger then holds, under the event's span, the
 * consumer's `handle` span (status error), a `retry` span per failed
 * attempt but the last, and the `dead-letter <topic>-dlq` span, each with
 * the handler's error.
 */
import assert from "node:assert/strict";
import { infraConfig } from "../../kit/env.ts";
import { getTrace, type TraceSpan } from "../../otel/jaeger.ts";
import { eventually } from "../support/dev.ts";

const { jaegerQueryUrl, otlpEndpoint } = infraConfig();

Deno.test("a retried and dead-lettered event: retry and dead-letter spans with the error", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("fixtures/failing_consumer.ts", import.meta.url).pathname],
    env: {
      OTEL_DENO: "true",
      OTEL_SERVICE_NAME: "observability-test",
      OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
      LOG_LEVEL: "error",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, stdout + new TextDecoder().decode(out.stderr));
  const traceId = stdout.trim().split("\n").at(-1)!;
  assert.match(traceId, /^[0-9a-f]{32}$/);

  const spans = await eventually(
    `trace ${traceId} with its dead letter`,
    async () => {
      const s = await getTrace(jaegerQueryUrl, traceId).catch(() => undefined);
      return s?.some((x) => x.operation.startsWith("dead-letter ")) &&
          s.some((x) => x.operation === "handle FailingEvent")
        ? s
        : undefined;
    },
    30_000,
    500,
  );

  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const parentOf = (s: TraceSpan) => (s.parentId ? byId.get(s.parentId) : undefined);
  const errorOf = (s: TraceSpan) =>
    String(s.tags["otel.status_description"] ?? s.tags["error.message"] ?? "");

  const handle = spans.find((s) => s.operation === "handle FailingEvent")!;
  assert.equal(parentOf(handle)?.operation, "publish test-events");
  assert.ok(handle.error, "the handling span is marked failed");
  assert.equal(handle.tags["span.kind"], "consumer");

  const retries = spans.filter((s) => s.operation === "retry FailingEvent");
  assert.equal(retries.length, 2, "attempts 1 and 2 failed and were retried");
  for (const r of retries) {
    assert.equal(parentOf(r)?.spanId, handle.spanId);
    assert.ok(r.error, "a retry span carries the error");
    assert.match(errorOf(r), /the handler always fails/);
  }
  assert.deepEqual(retries.map((r) => r.tags["retry.attempt"]).sort(), [1, 2]);

  const dead = spans.find((s) => s.operation.startsWith("dead-letter "))!;
  assert.match(dead.operation, /-events-dlq$/);
  assert.equal(parentOf(dead)?.spanId, handle.spanId);
  assert.ok(dead.error);
  assert.match(errorOf(dead), /dead-lettered \(handler-failed\)/);
  assert.equal(dead.tags["dlq.attempts"], 3);
});
