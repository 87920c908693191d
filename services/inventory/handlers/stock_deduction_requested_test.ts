/**
 * StockDeductionRequested against the real Postgres: stock is taken once,
 * never below zero, and the answer is written to the outbox in the same
 * transaction.
 */
import assert from "node:assert/strict";
import { inventoryFixture } from "../testing.ts";
import { handleStockDeductionRequested as deduct } from "./stock_deduction_requested.ts";
import { handleStockRestoreRequested as restore } from "./stock_restore_requested.ts";
import { InvalidPayloadError } from "./payload.ts";

Deno.test("a deduction takes the stock and answers StockDeducted on stock-events", async () => {
  await using f = await inventoryFixture();
  const productId = await f.product(10);
  const orderId = f.orderId();
  const outcome = await f.deliver(deduct, {
    orderId,
    userId: "u-1",
    line: 0,
    productId,
    quantity: 3,
  });
  assert.deepEqual(outcome, { deducted: true, productId, quantity: 3 });
  assert.equal(await f.stockOf(productId), 7);
  assert.deepEqual((await f.lines(orderId)).map((l) => [l.state, l.quantity]), [["DEDUCTED", 3]]);
  assert.deepEqual(await f.sent(orderId), [{
    eventType: "StockDeducted",
    topic: "stock-events",
    key: productId,
    payload: { orderId, line: 0, productId, quantity: 3 },
  }]);
});

Deno.test("a deduction of more than the stock fails with insufficient_stock and takes nothing", async () => {
  await using f = await inventoryFixture();
  const productId = await f.product(2);
  const orderId = f.orderId();
  await f.deliver(deduct, { orderId, userId: "u-1", line: 0, productId, quantity: 3 });
  assert.equal(await f.stockOf(productId), 2);
  assert.deepEqual(
    (await f.lines(orderId)).map((l) => [l.state, l.reason]),
    [["FAILED", "insufficient_stock"]],
  );
  assert.deepEqual(await f.sent(orderId), [{
    eventType: "StockDeductionFailed",
    topic: "stock-events",
    key: productId,
    payload: { orderId, line: 0, productId, reason: "insufficient_stock" },
  }]);
});

Deno.test("the whole stock can be taken, down to zero", async () => {
  await using f = await inventoryFixture();
  const productId = await f.product(3);
  const orderId = f.orderId();
  await f.deliver(deduct, { orderId, userId: "u-1", line: 0, productId, quantity: 3 });
  assert.equal(await f.stockOf(productId), 0);
});

Deno.test("a deduction of an unknown product fails with unknown_product", async () => {
  await using f = await inventoryFixture();
  const productId = f.productId(); // never created
  const orderId = f.orderId();
  const outcome = await f.deliver(deduct, {
    orderId,
    userId: "u-1",
    line: 2,
    productId,
    quantity: 1,
  });
  assert.deepEqual(outcome, { deducted: false, productId, reason: "unknown_product" });
  assert.deepEqual((await f.sent(orderId)).map((e) => e.payload.reason), ["unknown_product"]);
});

Deno.test("the same event delivered twice is handled once (inbox)", async () => {
  await using f = await inventoryFixture();
  const productId = await f.product(10);
  const orderId = f.orderId();
  const payload = { orderId, userId: "u-1", line: 0, productId, quantity: 4 };
  const eventId = crypto.randomUUID();
  assert.ok(await f.deliver(deduct, payload, eventId));
  assert.equal(await f.deliver(deduct, payload, eventId), undefined);
  assert.equal(await f.stockOf(productId), 6);
  assert.equal((await f.sent(orderId)).length, 1);
});

Deno.test("a repeated request for a line (new event id) takes nothing and gets the same answer", async () => {
  await using f = await inventoryFixture();
  const productId = await f.product(10);
  const orderId = f.orderId();
  const payload = { orderId, userId: "u-1", line: 0, productId, quantity: 4 };
  await f.deliver(deduct, payload);
  const again = await f.deliver(deduct, payload);
  assert.deepEqual(again, { deducted: true, productId, quantity: 4 });
  assert.equal(await f.stockOf(productId), 6);
  const sent = await f.sent(orderId);
  assert.deepEqual(sent.map((e) => e.eventType), ["StockDeducted", "StockDeducted"]);
});

Deno.test("lines of one order are deducted independently", async () => {
  await using f = await inventoryFixture();
  const a = await f.product(5);
  const b = await f.product(1);
  const orderId = f.orderId();
  await f.deliver(deduct, { orderId, userId: "u-1", line: 0, productId: a, quantity: 2 });
  await f.deliver(deduct, { orderId, userId: "u-1", line: 1, productId: b, quantity: 2 });
  assert.deepEqual((await f.lines(orderId)).map((l) => l.state), ["DEDUCTED", "FAILED"]);
  assert.equal(await f.stockOf(a), 3);
  assert.equal(await f.stockOf(b), 1);
});

Deno.test("a deduction that a restore overtook is refused with order_cancelled", async () => {
  await using f = await inventoryFixture();
  const productId = await f.product(10);
  const orderId = f.orderId();
  await f.deliver(restore, { orderId, line: 0, productId, quantity: 2 });
  const outcome = await f.deliver(deduct, {
    orderId,
    userId: "u-1",
    line: 0,
    productId,
    quantity: 2,
  });
  assert.deepEqual(outcome, { deducted: false, productId, reason: "order_cancelled" });
  assert.equal(await f.stockOf(productId), 10);
  assert.deepEqual((await f.lines(orderId)).map((l) => l.state), ["CANCELLED"]);
});

Deno.test("concurrent deductions never take more than the stock", async () => {
  await using f = await inventoryFixture();
  const productId = await f.product(10);
  const orderIds = Array.from({ length: 8 }, () => f.orderId());
  const outcomes = await Promise.all(
    orderIds.map((orderId) =>
      f.deliver(deduct, { orderId, userId: "u-1", line: 0, productId, quantity: 3 })
    ),
  );
  const taken = outcomes.filter((o) => o?.deducted).length;
  assert.equal(taken, 3, "10 units make three deductions of 3");
  assert.equal(await f.stockOf(productId), 1);
});

Deno.test("a payload that breaks the contract is refused and writes nothing", async () => {
  await using f = await inventoryFixture();
  const productId = await f.product(10);
  const orderId = f.orderId();
  for (const bad of [{ orderId, line: 0, productId, quantity: 0, userId: "u" }, { orderId }]) {
    await assert.rejects(f.deliver(deduct, bad), InvalidPayloadError);
  }
  assert.equal(await f.stockOf(productId), 10);
  assert.deepEqual(await f.lines(orderId), []);
  assert.deepEqual(await f.sent(orderId), []);
});
