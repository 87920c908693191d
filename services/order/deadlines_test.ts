/**
 * The deadline sweeper's work per pass is bounded (issue #17): small
 * transactions — a pass does not hold many sagas locked against their
 * replies at once — and at most `maxPerPass` sagas, oldest deadline first.
 */
import assert from "node:assert/strict";
import { inTransaction } from "../../db/after_commit.ts";
import { connectAdmin, connectService } from "../../db/mod.ts";
import { sweepOverdue } from "./deadlines.ts";
import { placeOrder } from "./saga_runner.ts";
import { removeOrdersOf } from "./testing.ts";

Deno.test("a deadline sweep gives up overdue sagas a few per transaction, at most maxPerPass in a pass", async () => {
  const sql = connectService("order_service", { max: 2 });
  const admin = connectAdmin({ max: 1 });
  const user = `sweep-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const orderId = crypto.randomUUID();
      ids.push(orderId);
      await inTransaction(sql, (tx) =>
        placeOrder(tx, {
          orderId,
          userId: user,
          items: [{ productId: `no-such-product-${user}`, quantity: 1 }],
          couponId: null,
          points: 0,
          idempotencyKey: null,
          mode: "parallel",
          // Long past: these come first in the sweep's deadline order.
          deadlineMs: -365 * 24 * 3_600_000 + i,
        }));
    }
    const swept = await sweepOverdue(sql, { batch: 3, maxPerPass: 5 });
    assert.ok(swept <= 5, `a pass gave up ${swept} sagas, at most 5`);
    const rows = await sql<{ id: string; status: string; tx: string }[]>`
      select id, status, xmin::text as tx from orders where id = any(${ids}::uuid[])
        and status <> 'PENDING'`;
    assert.ok(rows.length > 0, "the pass gave up some of the overdue sagas");
    const perTransaction = new Map<string, number>();
    for (const r of rows) perTransaction.set(r.tx, (perTransaction.get(r.tx) ?? 0) + 1);
    assert.ok(
      [...perTransaction.values()].every((n) => n <= 3),
      `sagas given up per transaction: ${JSON.stringify([...perTransaction.values()])}`,
    );
  } finally {
    await removeOrdersOf(admin, user);
    await Promise.all([sql.end(), admin.end()]);
  }
});
