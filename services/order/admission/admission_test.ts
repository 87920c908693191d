/**
 * Admission control through the order API (`app.request`, no port), against
 * the real database: two apps with pools of their own play two order
 * instances. The database is shared with whatever else runs, so the limits
 * are read back from each instance rather than assumed.
 */
import assert from "node:assert/strict";
import { connectAdmin, connectService } from "../../../db/mod.ts";
import { jwtSecret } from "../../../kit/env.ts";
import { issueToken } from "../../../kit/http/auth.ts";
import { createLogger } from "../../../kit/log.ts";
import { orderApp } from "../http.ts";
import { removeOrdersOf } from "../testing.ts";
import { Admission, type AdmissionConfig } from "./admission.ts";
import { INSTANCE_APP_PREFIX, readAdmissionSignal } from "./signal.ts";

const order = { items: [{ productId: "admission-test-product", quantity: 1 }] };

function instance(name: string, config: AdmissionConfig) {
  const sql = connectService("order_service", {
    max: 4,
    applicationName: `${INSTANCE_APP_PREFIX}${name}-${Deno.pid}`,
  });
  const admission = Admission.onDatabase(sql, config);
  const app = orderApp({
    sql,
    log: createLogger("admission-test", "error"),
    sagaDeadlineMs: config.deadlineMs,
    admission,
  });
  const post = async (user: string) => {
    const token = await issueToken(jwtSecret(), { sub: user, roles: [] }, 300);
    const res = await app.request("/orders", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify(order),
    });
    return {
      status: res.status,
      retryAfter: res.headers.get("Retry-After"),
      body: await res.json(),
    };
  };
  const adminGet = async (path: string) => {
    const token = await issueToken(jwtSecret(), { sub: "ops", roles: ["admin"] }, 300);
    const res = await app.request(path, { headers: { Authorization: `Bearer ${token}` } });
    return { status: res.status, body: await res.json() };
  };
  return { sql, admission, post, adminGet };
}

const base: AdmissionConfig = {
  deadlineMs: 60_000,
  targetPercent: 50,
  minRatePerS: 1,
  userMinInFlight: 1_000,
  userPercent: 0,
  windowMs: 500,
  // One reading per instance for the whole test: what one instance admits
  // is invisible to the other until it reads again.
  refreshMs: 600_000,
};

Deno.test("two order instances share one admission limit: a burst split across both stays within it", async () => {
  const admin = connectAdmin({ max: 1 });
  const prefix = `admission-split-${crypto.randomUUID().slice(0, 8)}-`;
  // Room for about 30 more whatever else is in flight in the shared database:
  // the floor rate × the 30 s target.
  const probe = connectService("order_service", { max: 1 });
  const { inFlight } = await readAdmissionSignal(probe, base.windowMs).finally(() => probe.end());
  const config = { ...base, minRatePerS: Math.ceil((inFlight + 30) / 30) };
  const a = instance("a", config);
  const b = instance("b", config);
  try {
    // A running instance always holds a connection (its deadline sweeper
    // queries every second); these pools connect on first use.
    await Promise.all([a.sql`select 1`, b.sql`select 1`]);
    const before = await a.admission.state();
    const headroom = before.limit - before.inFlight;
    assert.ok(before.instances >= 2, `both instances are counted: ${JSON.stringify(before)}`);
    const burst = 2 * Math.max(headroom, 10);
    const results = await Promise.all(
      Array.from({ length: burst }, (_, i) => (i % 2 === 0 ? a : b).post(`${prefix}${i}`)),
    );
    const after = await b.admission.state();
    const accepted = results.filter((r) => r.status === 202).length;
    const refused = results.filter((r) => r.status === 503);
    assert.equal(accepted + refused.length, burst, JSON.stringify(results.map((r) => r.status)));
    const allowed = Math.max(headroom, after.limit - after.inFlight);
    assert.ok(accepted <= allowed, `${accepted} accepted, the limit allowed ${allowed}`);
    assert.ok(refused.length > 0);
    for (const r of refused) {
      assert.ok(Number(r.retryAfter) >= 1, JSON.stringify(r));
      assert.equal(r.body.error.code, "overloaded");
      assert.match(r.body.error.message, /in flight/);
    }
  } finally {
    await removeOrdersOf(admin, `${prefix}%`);
    await Promise.all([a.sql.end(), b.sql.end(), admin.end()]);
  }
});

Deno.test("one user's burst is refused with 429 while another user's order is accepted", async () => {
  const admin = connectAdmin({ max: 1 });
  const prefix = `admission-user-${crypto.randomUUID().slice(0, 8)}-`;
  // A generous global limit (1,000 sagas/s assumed), three sagas per user.
  const a = instance("u", { ...base, minRatePerS: 1_000, userMinInFlight: 3 });
  try {
    const burst = await Promise.all(Array.from({ length: 8 }, () => a.post(`${prefix}greedy`)));
    const statuses = burst.map((r) => r.status).sort();
    assert.deepEqual(statuses, [202, 202, 202, 429, 429, 429, 429, 429]);
    for (const r of burst.filter((r) => r.status === 429)) {
      assert.ok(Number(r.retryAfter) >= 1, JSON.stringify(r));
      assert.equal(r.body.error.code, "too_many_orders_in_progress");
      assert.equal(r.body.userInFlight, 3);
    }
    assert.equal((await a.post(`${prefix}other`)).status, 202);
    const [{ n }] = await admin<{ n: number }[]>`
      select count(*)::int as n from orders.orders where user_id = ${prefix + "greedy"}`;
    assert.equal(n, 3, "the refused requests wrote no order");
  } finally {
    await removeOrdersOf(admin, `${prefix}%`);
    await Promise.all([a.sql.end(), admin.end()]);
  }
});

Deno.test("GET /admin/admission shows the numbers the instance decides by", async () => {
  const a = instance("state", { ...base, minRatePerS: 10 });
  try {
    const res = await a.adminGet("/admin/admission");
    assert.equal(res.status, 200);
    assert.equal(res.body.enabled, true);
    assert.equal(res.body.targetMs, 30_000);
    assert.ok(res.body.limit >= 300, JSON.stringify(res.body)); // 10/s × 30 s at least
    for (const field of ["inFlight", "completionRatePerS", "userLimit", "instances"]) {
      assert.equal(typeof res.body[field], "number", field);
    }
  } finally {
    await a.sql.end();
  }
});
