/**
 * The point HTTP API through `app.request` (no server), against the real
 * Postgres: users see only their own points, only admins grant, invalid
 * grants are refused before anything is written.
 */
import assert from "node:assert/strict";
import { issueToken } from "../../kit/mod.ts";
import { handlePointDeductionRequested as deduct } from "./handlers/point_deduction_requested.ts";
import { pointHttp } from "./http.ts";
import { type PointFixture, pointFixture } from "./testing.ts";

const SECRET = crypto.randomUUID() + crypto.randomUUID();
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const admin = await issueToken(SECRET, { sub: "ops-1", roles: ["admin"] }, 300);
const tokenOf = (userId: string) => issueToken(SECRET, { sub: userId }, 300);

function client(f: PointFixture) {
  const app = pointHttp({ sql: f.sql, log: quiet, jwtSecret: SECRET });
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

Deno.test("an admin grants points; the user sees their balance and its movements", async () => {
  await using f = await pointFixture();
  const http = client(f);
  const userId = f.userId();
  const granted = await http("POST", "/admin/points/grant", {
    token: admin,
    body: { userId, amount: 1500 },
  });
  assert.equal(granted.status, 200);
  assert.deepEqual(await granted.json(), { userId, balance: 1500 });
  const orderId = f.orderId();
  await f.deliver(deduct, { orderId, userId, amount: 500 });

  const me = await http("GET", "/points/me", { token: await tokenOf(userId) });
  assert.equal(me.status, 200);
  const body = await me.json();
  assert.equal(body.userId, userId);
  assert.equal(body.balance, 1000);
  assert.deepEqual(
    body.movements.map((m: { delta: number; kind: string; orderId: string | null }) => [
      m.delta,
      m.kind,
      m.orderId,
    ]),
    [[-500, "DEDUCT", orderId], [1500, "GRANT", null]],
  );
});

Deno.test("grants add up", async () => {
  await using f = await pointFixture();
  const http = client(f);
  const userId = f.userId();
  await http("POST", "/admin/points/grant", { token: admin, body: { userId, amount: 10 } });
  const res = await http("POST", "/admin/points/grant", {
    token: admin,
    body: { userId, amount: 5 },
  });
  assert.deepEqual(await res.json(), { userId, balance: 15 });
});

Deno.test("a user sees only their own points; one never granted any has 0", async () => {
  await using f = await pointFixture();
  const http = client(f);
  const rich = await f.user(999);
  const other = f.userId();
  const res = await http("GET", "/points/me", { token: await tokenOf(other) });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { userId: other, balance: 0, movements: [] });
  assert.equal(await f.balanceOf(rich), 999);
});

Deno.test("an invalid grant is a 422 naming each field, and nothing is written", async () => {
  await using f = await pointFixture();
  const http = client(f);
  const userId = f.userId();
  for (
    const [body, fields] of [
      [{ userId, amount: 0 }, ["amount"]],
      [{ userId, amount: 1.5 }, ["amount"]],
      [{ amount: 10 }, ["userId"]],
      [{ userId: "", amount: -3, extra: true }, ["amount", "extra", "userId"]],
    ] as const
  ) {
    const res = await http("POST", "/admin/points/grant", { token: admin, body });
    assert.equal(res.status, 422, JSON.stringify(body));
    assert.deepEqual(Object.keys((await res.json()).error.fields).sort(), fields);
  }
  assert.equal(await f.balanceOf(userId), null);
});

Deno.test("a customer may not grant points (403); no token is a 401", async () => {
  await using f = await pointFixture();
  const http = client(f);
  const userId = f.userId();
  const asCustomer = await http("POST", "/admin/points/grant", {
    token: await tokenOf(userId),
    body: { userId, amount: 1000 },
  });
  assert.equal(asCustomer.status, 403);
  const anonymous = await http("POST", "/admin/points/grant", { body: { userId, amount: 1000 } });
  assert.equal(anonymous.status, 401);
  assert.equal((await http("GET", "/points/me")).status, 401);
  assert.equal(await f.balanceOf(userId), null);
});
