/**
 * Stock is conserved: after any sequence of deductions and restores —
 * repeated, reordered, concurrent, restores overtaking their deductions —
 * every product's stock plus what DEDUCTED lines hold equals its initial
 * stock, stock never goes below zero, and a line is restored at most once.
 * The sequence is random; its seed is printed so a failure can be replayed
 * (`INVARIANT_SEED=… deno test …`).
 */
import assert from "node:assert/strict";
import { handleStockDeductionRequested as deduct } from "./handlers/stock_deduction_requested.ts";
import { handleStockRestoreRequested as restore } from "./handlers/stock_restore_requested.ts";
import { inventoryFixture } from "./testing.ts";

/** A small seeded generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("stock plus what deducted lines hold stays the initial stock", async () => {
  const seed = Number(Deno.env.get("INVARIANT_SEED") ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`seed ${seed}`);
  const rnd = random(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];

  await using f = await inventoryFixture();
  const initial = new Map<string, number>();
  for (let i = 0; i < 3; i++) {
    const stock = 5 + Math.floor(rnd() * 20);
    initial.set(await f.product(stock), stock);
  }
  const products = [...initial.keys()];
  const orders = Array.from({ length: 12 }, () => f.orderId());
  // Each (order, line) has one product and quantity, as a real order would.
  const lines = orders.flatMap((orderId) =>
    [0, 1].map((line) => ({
      orderId,
      line,
      productId: pick(products),
      quantity: 1 + Math.floor(rnd() * 6),
    }))
  );

  for (let round = 0; round < 15; round++) {
    // A burst of concurrent commands, some of them redeliveries of one event id.
    const burst = Array.from({ length: 8 }, () => {
      const l = pick(lines);
      const eventId = rnd() < 0.2 ? `${l.orderId}-${l.line}-dup` : crypto.randomUUID();
      return rnd() < 0.6
        ? f.deliver(deduct, { ...l, userId: "u-1" }, `${eventId}-d`)
        : f.deliver(restore, l, `${eventId}-r`);
    });
    await Promise.all(burst);

    const rows = await f.sql<{ product_id: string; held: string }[]>`
      select product_id, coalesce(sum(quantity) filter (where state = 'DEDUCTED'), 0) as held
      from deductions where order_id in ${f.sql(orders)} group by product_id`;
    const held = new Map(rows.map((r) => [r.product_id, Number(r.held)]));
    for (const productId of products) {
      const stock = await f.stockOf(productId);
      assert.ok(stock >= 0, `stock of ${productId} is ${stock}`);
      assert.equal(
        stock + (held.get(productId) ?? 0),
        initial.get(productId),
        `round ${round}, product ${productId} (seed ${seed})`,
      );
    }
  }

  // A restore for every line undoes every deduction.
  for (const l of lines) await f.deliver(restore, l);
  for (const productId of products) {
    assert.equal(await f.stockOf(productId), initial.get(productId), `seed ${seed}`);
  }
  const states = await f.sql<{ state: string }[]>`
    select distinct state from deductions where order_id in ${f.sql(orders)}`;
  for (const { state } of states) assert.ok(["RESTORED", "FAILED", "CANCELLED"].includes(state));
});
