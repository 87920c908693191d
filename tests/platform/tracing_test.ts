/**
 * Platform: a span made by a Deno process with OTEL_DENO=true reaches the
 * suite's Jaeger and is found through its query API; scrapes and health
 * checks do not fill it with traces of their own (infra/jaeger/config.yaml).
 */
import assert from "node:assert/strict";
import { infraConfig } from "../../kit/env.ts";
import { eventually, uniqueName } from "../support/dev.ts";

const { jaegerQueryUrl, otlpEndpoint } = infraConfig();

/** Runs a fixture script as `service` with Deno's telemetry exporting to the suite's Jaeger. */
async function runTraced(service: string, fixture: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(`../fixtures/${fixture}`, import.meta.url).pathname, ...args],
    env: {
      OTEL_DENO: "true",
      OTEL_SERVICE_NAME: service,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

Deno.test("a span from a Deno process with OTEL_DENO=true is found in Jaeger", async () => {
  const service = uniqueName("platform-tracing");
  const spanName = uniqueName("span");
  await runTraced(service, "emit_span.ts", spanName);

  const spans = await eventually(
    `a trace of service ${service} in Jaeger`,
    async () => {
      const res = await fetch(`${jaegerQueryUrl}/api/traces?service=${service}&limit=10`);
      if (!res.ok) {
        await res.body?.cancel();
        return undefined;
      }
      const body = await res.json() as { data: { spans: { operationName: string }[] }[] };
      const names = body.data.flatMap((t) => t.spans.map((s) => s.operationName));
      return names.length > 0 ? names : undefined;
    },
    20_000,
    500,
  );
  assert.ok(spans.includes(spanName), `span ${spanName} among ${JSON.stringify(spans)}`);
});

Deno.test("Jaeger drops the traces of scrapes and health checks, and keeps the rest", async () => {
  const service = uniqueName("platform-probes");
  await runTraced(service, "serve_probes.ts");

  type Span = { spanID: string; tags: { key: string; value: unknown }[] };
  const tag = (s: Span, key: string) => s.tags.find((t) => t.key === key)?.value;
  const traces = await eventually(
    `the traces of ${service} in Jaeger`,
    async () => {
      const res = await fetch(`${jaegerQueryUrl}/api/traces?service=${service}&limit=20`);
      if (!res.ok) {
        await res.body?.cancel();
        return undefined;
      }
      const body = await res.json() as { data: { spans: Span[] }[] };
      const all = body.data.map((t) =>
        t.spans.map((s) => `${tag(s, "span.kind")} ${tag(s, "url.path")}`).sort()
      );
      // Both kept traces have arrived (the batch processor flushes every 200 ms).
      return all.length >= 2 ? all : undefined;
    },
    20_000,
    500,
  );
  assert.deepEqual(
    traces.sort((a, b) => a.length - b.length),
    [["server /orders"], ["client /health", "server /health", "server /outer"]],
    "the /orders trace and /outer's (its /health call inside), no trace of a probe of its own",
  );
});
