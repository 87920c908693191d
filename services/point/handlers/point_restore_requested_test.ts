/**
 * PointRestoreRequested against the real Postgres: points come back once,
 * only for a deducted order, and a restore that overtakes its deduction
 * leaves a tombstone.
 */
import assert from "node:assert/strict";
import { pointFixture } from "../testing.ts";
import { handlePointDeductionRequested as deduct } from "./point_deduction_requested.ts";
import { handlePointRestoreRequested as restore } from "./point_restore_requested.ts";

Deno.test("a restore gives a deducted order's points back and answers PointsRestored", async () => {
  await using f = await pointFixture();
  const userId = await f.user(1000);
  const orderId = f.orderId();
  await f.deliver(deduct, { orderId, userId, amount: 300 });
  const reply = await f.deliver(restore, { orderId, userId, amount: 300 });
  assert.deepEqual(reply, { orderId, userId, wasDeducted: true });
  assert.equal(await f.balanceOf(userId), 1000);
  assert.equal(await f.movementsOf(userId), 1000);
  assert.equal((await f.deduction(orderId))?.state, "RESTORED");
  assert.deepEqual((await f.sent(orderId))[1], {
    eventType: "PointsRestored",
    topic: "point-events",
    key: userId,
    payload: { orderId, userId, wasDeducted: true },
  });
});

Deno.test("a second restore (new event id) changes nothing and answers the same", async () => {
  await using f = await pointFixture();
  const userId = await f.user(1000);
  const orderId = f.orderId();
  await f.deliver(deduct, { orderId, userId, amount: 300 });
  await f.deliver(restore, { orderId, userId, amount: 300 });
  const again = await f.deliver(restore, { orderId, userId, amount: 300 });
  assert.deepEqual(again, { orderId, userId, wasDeducted: true });
  assert.equal(await f.balanceOf(userId), 1000);
});

Deno.test("the same restore event delivered twice is handled once (inbox)", async () => {
  await using f = await pointFixture();
  const userId = await f.user(1000);
  const orderId = f.orderId();
  await f.deliver(deduct, { orderId, userId, amount: 300 });
  const eventId = crypto.randomUUID();
  assert.ok(await f.deliver(restore, { orderId, userId, amount: 300 }, eventId));
  assert.equal(await f.deliver(restore, { orderId, userId, amount: 300 }, eventId), undefined);
  assert.equal((await f.sent(orderId)).filter((e) => e.eventType === "PointsRestored").length, 1);
});

Deno.test("a restore before its deduction records a tombstone and gives nothing", async () => {
  await using f = await pointFixture();
  const userId = await f.user(1000);
  const orderId = f.orderId();
  const reply = await f.deliver(restore, { orderId, userId, amount: 300 });
  assert.deepEqual(reply, { orderId, userId, wasDeducted: false });
  assert.equal(await f.balanceOf(userId), 1000);
  assert.equal((await f.deduction(orderId))?.state, "CANCELLED");
});

Deno.test("a restore of a refused deduction gives nothing back", async () => {
  await using f = await pointFixture();
  const userId = await f.user(100);
  const orderId = f.orderId();
  await f.deliver(deduct, { orderId, userId, amount: 300 });
  const reply = await f.deliver(restore, { orderId, userId, amount: 300 });
  assert.equal(reply?.wasDeducted, false);
  assert.equal(await f.balanceOf(userId), 100);
});

Deno.test("a restore gives back what was taken, whatever amount it names", async () => {
  await using f = await pointFixture();
  const userId = await f.user(1000);
  const orderId = f.orderId();
  await f.deliver(deduct, { orderId, userId, amount: 300 });
  await f.deliver(restore, { orderId, userId, amount: 900 });
  assert.equal(await f.balanceOf(userId), 1000);
});

Deno.test("a restore racing its deduction: either both happen or neither", async () => {
  await using f = await pointFixture();
  const userId = await f.user(1000);
  const orderIds = Array.from({ length: 20 }, () => f.orderId());
  await Promise.all(orderIds.flatMap((orderId) => [
    f.deliver(deduct, { orderId, userId, amount: 10 }),
    f.deliver(restore, { orderId, userId, amount: 10 }),
  ]));
  assert.equal(await f.balanceOf(userId), 1000);
  assert.equal(await f.movementsOf(userId), 1000);
});
