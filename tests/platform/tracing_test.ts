/**
 * Platform: a span made by a Deno process with OTEL_DENO=true reaches the
 * suite's Jaeger and is found through its query API.
 */
import assert from "node:assert/strict";
import { infraConfig } from "../../kit/env.ts";
import { eventually, uniqueName } from "../support/dev.ts";

const { jaegerQueryUrl, otlpEndpoint } = infraConfig();

Deno.test("a span from a Deno process with OTEL_DENO=true is found in Jaeger", async () => {
  const service = uniqueName("platform-tracing");
  const spanName = uniqueName("span");
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../fixtures/emit_span.ts", import.meta.url).pathname, spanName],
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
