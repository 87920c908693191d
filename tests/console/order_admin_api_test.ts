/**
 * What the console needs from the order service (issue #9), through
 * `app.request` against the real database: the admin listing of every
 * user's orders with filters by status, user and time, a user's own listing
 * with the same time filters, and an order's own outbox events with the
 * traceparent the console finds its trace by.
 */
import assert from "node:assert/strict";
import { connectService } from "../../db/mod.ts";
import { jwtSecret } from "../../kit/env.ts";
import { issueToken } from "../../kit/http/auth.ts";
import { createLogger } from "../../kit/log.ts";
import { orderApp } from "../../services/order/http.ts";

Deno.test("the order service's listing and events for the console", async (t) => {
  const sql = connectService("order_service", { max: 2 });
  const app = orderApp({ sql, log: createLogger("order-test", "error"), sagaDeadlineMs: 60_000 });
  const run = crypto.randomUUID().slice(0, 8);
  const alice = `console-api-alice-${run}`;
  const bob = `console-api-bob-${run}`;
  const call = async (path: string, user: string, admin = false, body?: unknown) => {
    const token = await issueToken(jwtSecret(), { sub: user, roles: admin ? ["admin"] : [] }, 300);
    const res = await app.request(path, {
      method: body === undefined ? "GET" : "POST",
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  const place = async (user: string) => {
    const res = await call("/orders", user, false, { items: [{ productId: "p-1", quantity: 1 }] });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.orderId as string;
  };
  const ids = (body: { orders: { orderId: string }[] }) => body.orders.map((o) => o.orderId);

  try {
    const a1 = await place(alice);
    const between = new Date();
    await new Promise((r) => setTimeout(r, 20));
    const a2 = await place(alice);
    const b1 = await place(bob);
    await sql`update orders set status = 'CANCELLED' where id = ${a2}`;

    await t.step("an admin lists every user's orders, filtered by user, status, time", async () => {
      const byUser = await call(`/admin/orders?user=${alice}`, "ops", true);
      assert.equal(byUser.status, 200);
      assert.deepEqual(ids(byUser.body), [a2, a1], "newest first");
      assert.equal(byUser.body.orders[0].userId, alice);
      // A relay and services of a concurrent run may carry these sagas on (p-1 is
      // no product: they end CANCELLED), so only what the filter promises is checked.
      const cancelled = await call(`/admin/orders?user=${alice}&status=CANCELLED`, "ops", true);
      assert.ok(ids(cancelled.body).includes(a2));
      for (const o of cancelled.body.orders) assert.equal(o.status, "CANCELLED");
      const from = encodeURIComponent(between.toISOString());
      const later = await call(`/admin/orders?user=${alice}&from=${from}`, "ops", true);
      assert.deepEqual(ids(later.body), [a2]);
      const earlier = await call(`/admin/orders?user=${alice}&to=${from}`, "ops", true);
      assert.deepEqual(ids(earlier.body), [a1]);
      const all = await call(`/admin/orders?from=${from}&limit=200`, "ops", true);
      assert.ok(ids(all.body).includes(b1) && ids(all.body).includes(a2));
      assert.ok(!ids(all.body).includes(a1));
    });

    await t.step(
      "a user may not list everyone's; their own list takes the time filters",
      async () => {
        const refused = await call(`/admin/orders`, alice);
        assert.equal(refused.status, 403);
        const from = encodeURIComponent(between.toISOString());
        const own = await call(`/orders?from=${from}`, alice);
        assert.deepEqual(ids(own.body), [a2]);
        const bad = await call(`/admin/orders?from=yesterday`, "ops", true);
        assert.equal(bad.status, 422);
      },
    );

    await t.step("an order's own outbox events, for its owner or an admin only", async () => {
      const mine = await call(`/orders/${a1}/events`, alice);
      assert.equal(mine.status, 200);
      assert.deepEqual(
        mine.body.events.map((e: { type: string }) => e.type).slice(0, 2),
        ["OrderPlaced", "StockDeductionRequested"],
      );
      assert.equal(mine.body.events[1].topic, "stock-events");
      assert.ok("traceparent" in mine.body.events[0]);
      const admin = await call(`/orders/${a1}/events`, "ops", true);
      assert.equal(admin.status, 200);
      const other = await call(`/orders/${a1}/events`, bob);
      assert.equal(other.status, 404);
    });
  } finally {
    await sql`delete from order_history where order_id in (
                select id from orders where user_id in (${alice}, ${bob}))`;
    await sql`delete from orders where user_id in (${alice}, ${bob})`;
    await sql.end();
  }
});
