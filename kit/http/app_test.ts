/**
 * createApp(): request ids, JSON 404s, the body limit (413) and /health.
 */
import assert from "node:assert/strict";
import { createApp, DEFAULT_BODY_LIMIT_BYTES } from "./app.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function echoApp(bodyLimitBytes?: number) {
  const app = createApp({ service: "test", log: quiet, bodyLimitBytes });
  app.post("/echo", async (c) => c.json({ length: (await c.req.text()).length }));
  return app;
}

Deno.test("an unknown route is a JSON 404 naming the method and path", async () => {
  const res = await echoApp().request("/nowhere", { method: "DELETE" });
  assert.equal(res.status, 404);
  assert.deepEqual(await res.json(), {
    error: { code: "not_found", message: "no route for DELETE /nowhere" },
  });
});

Deno.test("every response carries a request id, the caller's when it sends one", async () => {
  const app = echoApp();
  const own = await app.request("/health");
  assert.match(own.headers.get("X-Request-Id") ?? "", /^[0-9a-f-]{36}$/);
  const given = await app.request("/health", { headers: { "X-Request-Id": "abc-42" } });
  assert.equal(given.headers.get("X-Request-Id"), "abc-42");
});

Deno.test("a body over the limit is a 413 in the error shape", async () => {
  const app = echoApp();
  const big = "x".repeat(DEFAULT_BODY_LIMIT_BYTES + 1);
  const res = await app.request("/echo", { method: "POST", body: big });
  assert.equal(res.status, 413);
  assert.deepEqual(await res.json(), {
    error: {
      code: "payload_too_large",
      message: `the request body is larger than ${DEFAULT_BODY_LIMIT_BYTES} bytes`,
    },
  });
  const ok = await app.request("/echo", { method: "POST", body: "x".repeat(1000) });
  assert.deepEqual(await ok.json(), { length: 1000 });
});

Deno.test("a streamed body without Content-Length is cut off at the limit too", async () => {
  const chunk = new TextEncoder().encode("y".repeat(1024));
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ < 8) controller.enqueue(chunk);
      else controller.close();
    },
  });
  const res = await echoApp(4096).request("/echo", { method: "POST", body });
  assert.equal(res.status, 413);
  assert.equal((await res.json()).error.code, "payload_too_large");
});

Deno.test("GET /health answers ok with the service's name", async () => {
  const res = await echoApp().request("/health");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: "ok", service: "test", checks: {} });
});

Deno.test("GET /health answers 503 when a check fails, without the check's error", async () => {
  const app = createApp({
    service: "test",
    log: quiet,
    checks: {
      db: () => Promise.resolve(),
      kafka: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:59091")),
    },
  });
  const res = await app.request("/health");
  assert.equal(res.status, 503);
  assert.deepEqual(await res.json(), {
    status: "unavailable",
    service: "test",
    checks: { db: "ok", kafka: "failing" },
  });
});
