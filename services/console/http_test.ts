import assert from "node:assert/strict";
import { jwtSecret } from "../../kit/env.ts";
import { issueToken } from "../../kit/http/auth.ts";
import { memoryLogger } from "../../kit/testing.ts";
import type { ConsoleConfig } from "./config.ts";
import { consoleApp } from "./http.ts";

// Nothing listens on port 9: every upstream call fails at once.
const nowhere = "http://127.0.0.1:9";
const cfg: ConsoleConfig = {
  httpHost: "127.0.0.1",
  httpPort: 0,
  upstream: {
    order: nowhere,
    inventory: nowhere,
    coupon: nowhere,
    point: nowhere,
    deadletter: nowhere,
    relay: nowhere,
  },
  kafkaBrokers: [],
  jaegerQueryUrl: nowhere,
  orderTraceService: "order",
  upstreamTimeoutMs: 1_000,
};
const app = consoleApp({ cfg, log: memoryLogger() });
const auth = async (sub: string, roles: string[] = []) => ({
  Authorization: `Bearer ${await issueToken(jwtSecret(), { sub, roles }, 60)}`,
});

Deno.test("the page and its resources are served with a strict CSP, nothing else is", async () => {
  const page = await app.request("/");
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type")!, /text\/html/);
  assert.match(page.headers.get("content-security-policy")!, /default-src 'self'/);
  assert.match(await page.text(), /<title>Saga console<\/title>/);
  const js = await app.request("/static/app.js");
  assert.equal(js.status, 200);
  assert.match(js.headers.get("content-type")!, /javascript/);
  await js.body?.cancel();
  for (const path of ["/static/..%2Fhttp.ts", "/static/http.ts", "/static/nope.css"]) {
    const res = await app.request(path);
    assert.equal(res.status, 404, path);
    await res.body?.cancel();
  }
});

Deno.test("the API needs a token; operations need the admin role", async () => {
  const anon = await app.request("/api/me");
  assert.equal(anon.status, 401);
  await anon.body?.cancel();
  const me = await app.request("/api/me", { headers: await auth("alice") });
  assert.deepEqual(await me.json(), { id: "alice", roles: [] });
  for (const path of ["/api/admin/system", "/api/admin/dead-letters", "/api/admin/campaigns"]) {
    const res = await app.request(path, { headers: await auth("alice") });
    assert.equal(res.status, 403, path);
    await res.body?.cancel();
  }
  const replay = await app.request("/api/admin/dead-letters/replay", {
    method: "POST",
    headers: await auth("alice"),
  });
  assert.equal(replay.status, 403);
  await replay.body?.cancel();
});

Deno.test("a service that does not answer is a 502 naming it", async () => {
  const res = await app.request("/api/orders", { headers: await auth("ops", ["admin"]) });
  assert.equal(res.status, 502);
  const body = await res.json();
  assert.equal(body.error.code, "upstream_unavailable");
  assert.match(body.error.message, /order service/);
  const bad = await app.request("/api/orders?status=NOPE", { headers: await auth("alice") });
  assert.equal(bad.status, 422);
  await bad.body?.cancel();
  const notAnOrder = await app.request("/api/orders/not-a-uuid", { headers: await auth("alice") });
  assert.equal(notAnOrder.status, 404);
  await notAnOrder.body?.cancel();
});
