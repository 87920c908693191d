/**
 * Statements per saga (issue 16 item 4), counted by Postgres itself
 * (pg_stat_statements) while real sagas run through the suite's processes:
 * simple orders (one line, parallel) and coupon + points orders
 * (sequential), one saga at a time so that no batch shares its BEGIN and
 * COMMIT with another — the worst case, and the same on every run. What
 * runs on its own in the window (the order services' deadline sweeps) is
 * measured in an idle window first and taken off.
 *
 * The order service writes each change of a saga in one statement: placing
 * the order (order row + history + OrderPlaced + requests), and each reply
 * applied (saga + history + next requests or outcome).
 */
import assert from "node:assert/strict";
import { connectAdmin } from "../../db/mod.ts";
import { eventually, sleep } from "../support/dev.ts";
import {
  callsByRole,
  snapshotStatements,
  type StatementCount,
  statementsBetween,
} from "../support/statements.ts";
import { Client, createProduct, type OrderView, Suite } from "../support/suite.ts";

const chaos = { sanitizeOps: false, sanitizeResources: false };
const SAGAS = 10;

/** `counts` less what `idle` ran per millisecond, scaled to `ms`; per query, never below 0. */
function lessIdle(counts: StatementCount[], idle: StatementCount[], idleMs: number, ms: number) {
  const rate = new Map(idle.map((c) => [`${c.role}\t${c.query}`, c.calls / idleMs]));
  return counts
    .map((c) => ({
      ...c,
      calls: Math.max(0, c.calls - (rate.get(`${c.role}\t${c.query}`) ?? 0) * ms),
    }))
    .filter((c) => c.calls >= 0.5);
}

/** The order service's statements that write its saga (not its inbox). */
const SAGA_WRITE = /^\s*(with|insert into (orders|order_history|outbox)\b|update orders\b)/i;

/** Prints `counts` per saga, by role and by query; returns the order service's writes per saga. */
function report(title: string, counts: StatementCount[], sagas: number) {
  const per = (n: number) => Math.round((n / sagas) * 100) / 100;
  console.log(`\n${title}: ${per(counts.reduce((n, c) => n + c.calls, 0))} statements per saga`);
  console.log(`  by role: ${
    JSON.stringify(Object.fromEntries(
      Object.entries(callsByRole(counts)).map(([r, n]) => [r, per(n)]),
    ))
  }`);
  for (const c of counts) {
    console.log(
      `  ${per(c.calls).toFixed(2).padStart(6)}  ${c.role.padEnd(18)} ${
        c.query.replace(/\s+/g, " ").slice(0, 110)
      }`,
    );
  }
  const writes = counts.filter((c) => c.role === "order_service" && SAGA_WRITE.test(c.query));
  return { writes: per(writes.reduce((n, c) => n + c.calls, 0)) };
}

Deno.test({
  name: "a saga costs the order service one write statement per change, counted by Postgres",
  ...chaos,
  fn: async () => {
    const admin = connectAdmin({ max: 2 });
    const suite = await new Suite().start();
    const api = Client.admin();
    const run = crypto.randomUUID().slice(0, 8);
    try {
      const productId = await createProduct(suite, { id: `stmt-${run}`, stock: 1_000 });
      const users = await Promise.all(Array.from({ length: SAGAS }, async (_, i) => {
        const c = new Client(`stmt-${run}-${i}`);
        await api.call(suite.point, "POST", "/admin/points/grant", {
          userId: c.userId,
          amount: 100,
        });
        const coupon = await api.call<{ id: string }>(suite.coupon, "POST", "/admin/coupons", {
          userId: c.userId,
          discount: 100,
        });
        return { client: c, couponId: coupon.body.id };
      }));
      // Warm-up: every process has prepared its statements and joined its group.
      const warm = new Client(`stmt-${run}-warm`);
      const ran = async (client: Client, body: unknown) => {
        const res = await client.call<OrderView>(suite.orders[0], "POST", "/orders", body);
        assert.equal(res.status, 202, JSON.stringify(res.body));
        await eventually(
          `order ${res.body.orderId} to complete`,
          async () => {
            const [o] =
              await admin`select status from orders.orders where id = ${res.body.orderId}`;
            if (o.status === "CANCELLED") throw new Error(`order cancelled: ${JSON.stringify(o)}`);
            return o.status === "COMPLETED" || undefined;
          },
          30_000,
          20,
        );
      };
      await ran(warm, { items: [{ productId, quantity: 1 }] });
      await sleep(1_000);

      const idleStart = await snapshotStatements(admin);
      const idleT0 = performance.now();
      await sleep(5_000);
      const idle = statementsBetween(idleStart, await snapshotStatements(admin));
      const idleMs = performance.now() - idleT0;

      const measure = async (title: string, body: (i: number) => unknown) => {
        const before = await snapshotStatements(admin);
        const t0 = performance.now();
        for (let i = 0; i < SAGAS; i++) await ran(users[i].client, body(i));
        // The last reply's COMMIT is counted once the status is visible.
        const counts = statementsBetween(before, await snapshotStatements(admin));
        return report(title, lessIdle(counts, idle, idleMs, performance.now() - t0), SAGAS);
      };
      const simple = await measure(
        "simple order (one line, parallel)",
        () => ({ items: [{ productId, quantity: 1 }] }),
      );
      const full = await measure("coupon + points order (sequential)", (i) => ({
        items: [{ productId, quantity: 1 }],
        couponId: users[i].couponId,
        points: 10,
      }));
      // The order service's writes: one per change — placing the order, and
      // each reply applied (simple: 1 + 1; coupon + points: 1 + 3). Its
      // reads (the lock, the mode setting, admission) and inbox claims are
      // not what this counts.
      assert.ok(simple.writes <= 2 + 0.25, `simple order: ${simple.writes} writes per saga`);
      assert.ok(full.writes <= 4 + 0.25, `coupon + points order: ${full.writes} writes per saga`);
    } finally {
      await suite.stop();
      await admin.end();
    }
  },
});
