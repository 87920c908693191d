/**
 * A saga given up at its deadline stays in its trace: the deadline sweep
 * (services/order/deadlines.ts) runs on a timer, outside any request, and
 * continues the context the order was placed in (its OrderPlaced row's
 * `traceparent`) in a `saga deadline passed` span, so the cancellation and
 * any undo requests it writes belong to the saga's one trace.
 */
import assert from "node:assert/strict";
import { infraConfig } from "../../kit/env.ts";
import { getTrace } from "../../otel/jaeger.ts";
import { eventually } from "../support/dev.ts";

const { jaegerQueryUrl, otlpEndpoint } = infraConfig();

Deno.test("the deadline sweep's cancellation continues the order's trace", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("fixtures/deadline_sweep.ts", import.meta.url).pathname],
    env: {
      OTEL_DENO: "true",
      OTEL_DENO_CONSOLE: "ignore",
      OTEL_SERVICE_NAME: "observability-test",
      OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
      LOG_LEVEL: "error",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  assert.ok(out.success, stdout + new TextDecoder().decode(out.stderr));
  const r = JSON.parse(stdout.split("\n").at(-1)!) as {
    placed: string | null;
    cancelled: string | null;
  };
  assert.ok(r.placed && r.cancelled, JSON.stringify(r));
  const [, traceId, placedSpan] = r.placed.split("-");
  const [, cancelTrace, cancelSpan] = r.cancelled.split("-");
  assert.equal(cancelTrace, traceId, "the cancellation is in the order's trace");
  assert.notEqual(cancelSpan, placedSpan);

  const spans = await eventually(
    `trace ${traceId}`,
    async () => {
      const s = await getTrace(jaegerQueryUrl, traceId).catch(() => undefined);
      return s?.some((x) => x.operation === "saga deadline passed") ? s : undefined;
    },
    20_000,
    500,
  );
  const sweep = spans.find((s) => s.operation === "saga deadline passed")!;
  assert.equal(sweep.parentId, placedSpan, "under the span the order was placed in");
  assert.equal(cancelSpan, sweep.spanId, "the OrderCancelled row was written in the sweep's span");
  const cancelled = spans.find((s) => s.operation === "order CANCELLED");
  assert.equal(cancelled?.parentId, sweep.spanId);
});
