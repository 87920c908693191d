/**
 * The saga runner against the real database: each saga change writes the
 * order, its history and exactly the expected outbox events in one go.
 */
import assert from "node:assert/strict";
import { inTransaction } from "../../db/after_commit.ts";
import { connectService } from "../../db/mod.ts";
import { applyToSaga, placeOrder } from "./saga_runner.ts";
import { findOrder, history } from "./store.ts";

let sql: ReturnType<typeof connectService>;

async function outboxOf(orderId: string) {
  return await sql<
    { event_type: string; topic: string; key: string; payload: Record<string, unknown> }[]
  >`
    select event_type, topic, key, payload from outbox where aggregate_id = ${orderId} order by created_at`;
}

async function place(mode: "parallel" | "sequential", couponId: string | null, points: number) {
  const orderId = crypto.randomUUID();
  const userId = `runner-test-${crypto.randomUUID().slice(0, 8)}`;
  await inTransaction(sql, (tx) =>
    placeOrder(tx, {
      orderId,
      userId,
      items: [{ productId: "p-1", quantity: 2 }, { productId: "p-2", quantity: 1 }],
      couponId,
      points,
      idempotencyKey: null,
      mode,
      deadlineMs: 60_000,
    }));
  return { orderId, userId };
}

const cases: [string, () => Promise<void>][] = [];
cases.push([
  "placeOrder() stores PENDING and publishes OrderPlaced and every request, keyed per SPEC §3.2",
  async () => {
    const { orderId, userId } = await place("parallel", "c-9", 100);
    const order = await findOrder(sql, orderId);
    assert.equal(order?.status, "PENDING");
    assert.equal(order?.mode, "parallel");
    const events = await outboxOf(orderId);
    assert.deepEqual(events.map((e) => [e.event_type, e.topic, e.key]), [
      ["OrderPlaced", "order-events", userId],
      ["StockDeductionRequested", "stock-events", "p-1"],
      ["StockDeductionRequested", "stock-events", "p-2"],
      ["CouponUsageRequested", "coupon-events", "c-9"],
      ["PointDeductionRequested", "point-events", userId],
    ]);
    assert.deepEqual(events[2].payload, {
      orderId,
      userId,
      line: 2,
      productId: "p-2",
      quantity: 1,
    });
  },
]);

cases.push(["replies complete the saga once; a repeated reply changes nothing", async () => {
  const { orderId } = await place("parallel", null, 0);
  for (const stepId of ["stock:1", "stock:2"]) {
    assert.equal(
      await inTransaction(sql, (tx) => applyToSaga(tx, orderId, { type: "succeeded", stepId })),
      true,
    );
  }
  assert.equal(
    await inTransaction(
      sql,
      (tx) => applyToSaga(tx, orderId, { type: "succeeded", stepId: "stock:1" }),
    ),
    false,
  );
  assert.equal((await findOrder(sql, orderId))?.status, "COMPLETED");
  const events = await outboxOf(orderId);
  assert.equal(events.filter((e) => e.event_type === "OrderCompleted").length, 1);
  const notes = (await history(sql, orderId)).map((h) => h.note);
  assert.equal(notes[0], "order placed");
  assert.equal(notes.at(-1), "completed");
}]);

cases.push([
  "a failure publishes compensations in reverse order, one group after the other, then OrderCancelled",
  async () => {
    const { orderId, userId } = await place("parallel", "c-1", 50);
    const apply = (input: Parameters<typeof applyToSaga>[2]) =>
      inTransaction(sql, (tx) => applyToSaga(tx, orderId, input));
    await apply({ type: "succeeded", stepId: "stock:1" });
    await apply({ type: "succeeded", stepId: "coupon" });
    await apply({ type: "succeeded", stepId: "point" });
    await apply({ type: "failed", stepId: "stock:2", reason: "insufficient_stock" });
    await apply({ type: "compensated", stepId: "point" });
    await apply({ type: "compensated", stepId: "coupon" });
    await apply({ type: "compensated", stepId: "stock:1" });
    const compensation = (await outboxOf(orderId)).filter((e) => e.topic === "compensation-events");
    assert.deepEqual(compensation.map((e) => [e.event_type, e.key]), [
      ["PointRestoreRequested", orderId],
      ["CouponRestoreRequested", orderId],
      ["StockRestoreRequested", orderId],
    ]);
    assert.deepEqual(compensation[0].payload, { orderId, userId, amount: 50 });
    const order = await findOrder(sql, orderId);
    assert.equal(order?.status, "CANCELLED");
    assert.equal(order?.reason, "stock:2: insufficient_stock");
    const cancelled = (await outboxOf(orderId)).filter((e) => e.event_type === "OrderCancelled");
    assert.deepEqual(cancelled.map((e) => e.payload.reason), ["stock:2: insufficient_stock"]);
  },
]);

Deno.test("the saga runner against Postgres", async (t) => {
  sql = connectService("order_service", { max: 2 });
  try {
    for (const [name, fn] of cases) await t.step(name, fn);
  } finally {
    await sql.end();
  }
});
