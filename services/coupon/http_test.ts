/**
 * The coupon HTTP API through `app.request` (no server), against the real
 * Postgres: users see only their own coupons, only admins grant them,
 * invalid grants are refused before anything is written.
 */
import assert from "node:assert/strict";
import { issueToken } from "../../kit/mod.ts";
import { handleCouponUsageRequested as use } from "./handlers/coupon_usage_requested.ts";
import { couponHttp } from "./http.ts";
import { type CouponFixture, couponFixture } from "./testing.ts";

const SECRET = crypto.randomUUID() + crypto.randomUUID();
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const admin = await issueToken(SECRET, { sub: "ops-1", roles: ["admin"] }, 300);
const tokenOf = (userId: string) => issueToken(SECRET, { sub: userId }, 300);

function client(f: CouponFixture) {
  const app = couponHttp({ sql: f.sql, log: quiet, jwtSecret: SECRET });
  return (method: string, path: string, opts: { token?: string; body?: unknown } = {}) =>
    app.request(path, {
      method,
      headers: {
        ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.body !== undefined ? { "Content-Type": "application/json" } : {}),
      },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
}

Deno.test("an admin grants a coupon; its owner sees it, and sees it used", async () => {
  await using f = await couponFixture();
  const http = client(f);
  const userId = f.userId();
  const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
  const res = await http("POST", "/admin/coupons", {
    token: admin,
    body: { userId, discount: 3000, expiresAt },
  });
  assert.equal(res.status, 201);
  const granted = await res.json();
  assert.equal(granted.userId, userId);
  assert.equal(granted.status, "AVAILABLE");
  assert.equal(granted.usable, true);
  assert.equal(granted.expiresAt, expiresAt);

  const orderId = f.orderId();
  await f.deliver(use, { orderId, userId, couponId: granted.id });
  const mine = await http("GET", "/coupons/me", { token: await tokenOf(userId) });
  assert.equal(mine.status, 200);
  const body = await mine.json();
  assert.equal(body.userId, userId);
  assert.equal(body.coupons.length, 1);
  assert.equal(body.coupons[0].id, granted.id);
  assert.equal(body.coupons[0].status, "USED");
  assert.equal(body.coupons[0].usedByOrder, orderId);
  assert.equal(body.coupons[0].usable, false);
});

Deno.test("a coupon without expiry, with a chosen id; the same id again is a 409", async () => {
  await using f = await couponFixture();
  const http = client(f);
  const userId = f.userId();
  const id = f.couponId();
  const res = await http("POST", "/admin/coupons", {
    token: admin,
    body: { id, userId, discount: 1 },
  });
  assert.equal(res.status, 201);
  assert.equal((await res.json()).expiresAt, null);
  const again = await http("POST", "/admin/coupons", {
    token: admin,
    body: { id, userId: f.userId(), discount: 2 },
  });
  assert.equal(again.status, 409);
  assert.equal((await again.json()).error.code, "coupon_exists");
  assert.equal((await f.find(id))?.discount, 1);
});

Deno.test("a user sees only their own coupons", async () => {
  await using f = await couponFixture();
  const http = client(f);
  const alice = f.userId();
  const bob = f.userId();
  await f.coupon(alice);
  await f.coupon(alice);
  const bobs = await f.coupon(bob);
  const res = await http("GET", "/coupons/me", { token: await tokenOf(bob) });
  const body = await res.json();
  assert.deepEqual(body.coupons.map((c: { id: string }) => c.id), [bobs]);
});

Deno.test("an invalid grant is a 422 naming each field, and nothing is written", async () => {
  await using f = await couponFixture();
  const http = client(f);
  const userId = f.userId();
  const past = new Date(Date.now() - 1000).toISOString();
  for (
    const [body, fields] of [
      [{ userId, discount: 0 }, ["discount"]],
      [{ userId, discount: 10, expiresAt: "tomorrow" }, ["expiresAt"]],
      [{ userId, discount: 10, expiresAt: past }, ["expiresAt"]],
      [{ discount: 10 }, ["userId"]],
      [{ userId, discount: 10, id: "has space", kind: "x" }, ["id", "kind"]],
    ] as const
  ) {
    const res = await http("POST", "/admin/coupons", { token: admin, body });
    assert.equal(res.status, 422, JSON.stringify(body));
    assert.deepEqual(Object.keys((await res.json()).error.fields).sort(), fields);
  }
  const mine = await (await http("GET", "/coupons/me", { token: await tokenOf(userId) })).json();
  assert.deepEqual(mine.coupons, []);
});

Deno.test("a customer may not grant coupons (403); no token is a 401", async () => {
  await using f = await couponFixture();
  const http = client(f);
  const userId = f.userId();
  const asCustomer = await http("POST", "/admin/coupons", {
    token: await tokenOf(userId),
    body: { userId, discount: 100000 },
  });
  assert.equal(asCustomer.status, 403);
  assert.equal(
    (await http("POST", "/admin/coupons", { body: { userId, discount: 1 } })).status,
    401,
  );
  assert.equal((await http("GET", "/coupons/me")).status, 401);
  const mine = await (await http("GET", "/coupons/me", { token: await tokenOf(userId) })).json();
  assert.deepEqual(mine.coupons, []);
});
