/**
 * Issue #8: logs are JSON lines with time, level, service, message, and the
 * trace and span ids of the active span (kit/log.ts), so a log line leads to
 * its trace.
 */
import assert from "node:assert/strict";

Deno.test("a log line carries the active span's trace_id and span_id", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("fixtures/log_in_span.ts", import.meta.url).pathname],
    env: { OTEL_DENO: "true", OTEL_DENO_CONSOLE: "ignore", OTEL_SERVICE_NAME: "log-test" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim().split("\n");
  const stderr = new TextDecoder().decode(out.stderr).trim().split("\n");
  assert.ok(out.success, stderr.join("\n"));
  const ids = JSON.parse(stdout.at(-1)!) as { traceId: string; spanId: string };
  const inside = JSON.parse(stdout[0]);
  assert.deepEqual(
    { ...inside, time: undefined },
    {
      time: undefined,
      level: "info",
      service: "log-test",
      message: "inside a span",
      trace_id: ids.traceId,
      span_id: ids.spanId,
      n: 1,
    },
  );
  assert.ok(!Number.isNaN(Date.parse(inside.time)));
  // Warnings and errors go to stderr; outside a span there are no ids.
  const outside = JSON.parse(stderr.find((l) => l.includes("outside any span"))!);
  assert.equal(outside.level, "warn");
  assert.equal(outside.trace_id, undefined);
  assert.equal(outside.span_id, undefined);
});
