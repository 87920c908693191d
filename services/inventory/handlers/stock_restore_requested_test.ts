/**
 * StockRestoreRequested against the real Postgres: stock comes back once,
 * only for a deducted line, and a restore that overtakes its deduction
 * leaves a tombstone.
 */
import assert from "node:assert/strict";
import { inventoryFixture } from "../testing.ts";
import { handleStockDeductionRequested as deduct } from "./stock_deduction_requested.ts";
import { handleStockRestoreRequested as restore } from "./stock_restore_requested.ts";

Deno.test("a restore gives a deducted line's stock back and answers on stock-events", async () => {
  await using f = await inventoryFixture();
  const productId = await f.product(10);
  const orderId = f.orderId();
  await f.deliver(deduct, { orderId, userId: "u-1", line: 0, productId, quantity: 4 });
  const reply = await f.deliver(restore, { orderId, line: 0, productId, quantity: 4 });
  assert.deepEqual(reply, { orderId, line: 0, productId, wasDeducted: true });
  assert.equal(await f.stockOf(productId), 10);
  assert.deepEqual((await f.lines(orderId)).map((l) => l.state), ["RESTORED"]);
  const sent = await f.sent(orderId);
  assert.deepEqual(sent[1], {
    eventType: "StockRestored",
    topic: "stock-events",
    key: productId,
    payload: { orderId, line: 0, productId, wasDeducted: true },
  });
});

Deno.test("a second restore (new event id) changes nothing and answers the same", async () => {
  await using f = await inventoryFixture();
  const productId = await f.product(10);
  const orderId = f.orderId();
  await f.deliver(deduct, { orderId, userId: "u-1", line: 0, productId, quantity: 4 });
  const payload = { orderId, line: 0, productId, quantity: 4 };
  await f.deliver(restore, payload);
  const again = await f.deliver(restore, payload);
  assert.deepEqual(again, { orderId, line: 0, productId, wasDeducted: true });
  assert.equal(await f.stockOf(productId), 10);
});

Deno.test("the same restore event delivered twice is handled once (inbox)", async () => {
  await using f = await inventoryFixture();
  const productId = await f.product(10);
  const orderId = f.orderId();
  await f.deliver(deduct, { orderId, userId: "u-1", line: 0, productId, quantity: 4 });
  const eventId = crypto.randomUUID();
  const payload = { orderId, line: 0, productId, quantity: 4 };
  assert.ok(await f.deliver(restore, payload, eventId));
  assert.equal(await f.deliver(restore, payload, eventId), undefined);
  assert.equal((await f.sent(orderId)).filter((e) => e.eventType === "StockRestored").length, 1);
});

Deno.test("a restore before its deduction records a tombstone and gives nothing", async () => {
  await using f = await inventoryFixture();
  const productId = await f.product(10);
  const orderId = f.orderId();
  const reply = await f.deliver(restore, { orderId, line: 1, productId, quantity: 2 });
  assert.deepEqual(reply, { orderId, line: 1, productId, wasDeducted: false });
  assert.equal(await f.stockOf(productId), 10);
  assert.deepEqual((await f.lines(orderId)).map((l) => [l.line, l.state]), [[1, "CANCELLED"]]);
});

Deno.test("a restore of a refused line gives nothing back", async () => {
  await using f = await inventoryFixture();
  const productId = await f.product(1);
  const orderId = f.orderId();
  await f.deliver(deduct, { orderId, userId: "u-1", line: 0, productId, quantity: 4 });
  const reply = await f.deliver(restore, { orderId, line: 0, productId, quantity: 4 });
  assert.equal(reply?.wasDeducted, false);
  assert.equal(await f.stockOf(productId), 1);
  assert.deepEqual((await f.lines(orderId)).map((l) => l.state), ["FAILED"]);
});

Deno.test("a restore gives back what was taken, whatever quantity it names", async () => {
  await using f = await inventoryFixture();
  const productId = await f.product(10);
  const orderId = f.orderId();
  await f.deliver(deduct, { orderId, userId: "u-1", line: 0, productId, quantity: 4 });
  await f.deliver(restore, { orderId, line: 0, productId, quantity: 9 });
  assert.equal(await f.stockOf(productId), 10);
});

Deno.test("a restore racing its deduction: either both happen or neither", async () => {
  await using f = await inventoryFixture();
  const productId = await f.product(100);
  const orderIds = Array.from({ length: 20 }, () => f.orderId());
  await Promise.all(orderIds.flatMap((orderId) => [
    f.deliver(deduct, { orderId, userId: "u-1", line: 0, productId, quantity: 1 }),
    f.deliver(restore, { orderId, line: 0, productId, quantity: 1 }),
  ]));
  assert.equal(await f.stockOf(productId), 100);
  for (const orderId of orderIds) {
    const [l] = await f.lines(orderId);
    assert.ok(l.state === "RESTORED" || l.state === "CANCELLED", l.state);
  }
});
