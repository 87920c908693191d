/**
 * PointDeductionRequested against the real Postgres: points are taken once,
 * never below zero, and the answer is written to the outbox in the same
 * transaction.
 */
import assert from "node:assert/strict";
import { pointFixture } from "../testing.ts";
import { InvalidPayloadError } from "./payload.ts";
import { handlePointDeductionRequested as deduct } from "./point_deduction_requested.ts";
import { handlePointRestoreRequested as restore } from "./point_restore_requested.ts";

Deno.test("a deduction takes the points and answers PointsDeducted with the balance", async () => {
  await using f = await pointFixture();
  const userId = await f.user(1000);
  const orderId = f.orderId();
  const outcome = await f.deliver(deduct, { orderId, userId, amount: 300 });
  assert.deepEqual(outcome, { deducted: true, userId, amount: 300 });
  assert.equal(await f.balanceOf(userId), 700);
  assert.equal(await f.movementsOf(userId), 700);
  assert.equal((await f.deduction(orderId))?.state, "DEDUCTED");
  assert.deepEqual(await f.sent(orderId), [{
    eventType: "PointsDeducted",
    topic: "point-events",
    key: userId,
    payload: { orderId, userId, amount: 300, balance: 700 },
  }]);
});

Deno.test("a deduction of more than the balance fails with insufficient_points", async () => {
  await using f = await pointFixture();
  const userId = await f.user(100);
  const orderId = f.orderId();
  await f.deliver(deduct, { orderId, userId, amount: 101 });
  assert.equal(await f.balanceOf(userId), 100);
  assert.deepEqual(await f.sent(orderId), [{
    eventType: "PointDeductionFailed",
    topic: "point-events",
    key: userId,
    payload: { orderId, userId, reason: "insufficient_points" },
  }]);
});

Deno.test("the whole balance can be used, down to zero", async () => {
  await using f = await pointFixture();
  const userId = await f.user(100);
  await f.deliver(deduct, { orderId: f.orderId(), userId, amount: 100 });
  assert.equal(await f.balanceOf(userId), 0);
});

Deno.test("a deduction for a user without points fails with unknown_user", async () => {
  await using f = await pointFixture();
  const userId = f.userId();
  const orderId = f.orderId();
  const outcome = await f.deliver(deduct, { orderId, userId, amount: 1 });
  assert.deepEqual(outcome, { deducted: false, userId, reason: "unknown_user" });
  assert.equal(await f.balanceOf(userId), null);
  assert.deepEqual((await f.deduction(orderId))?.reason, "unknown_user");
});

Deno.test("the same event delivered twice is handled once (inbox)", async () => {
  await using f = await pointFixture();
  const userId = await f.user(1000);
  const orderId = f.orderId();
  const eventId = crypto.randomUUID();
  assert.ok(await f.deliver(deduct, { orderId, userId, amount: 300 }, eventId));
  assert.equal(await f.deliver(deduct, { orderId, userId, amount: 300 }, eventId), undefined);
  assert.equal(await f.balanceOf(userId), 700);
  assert.equal((await f.sent(orderId)).length, 1);
});

Deno.test("a repeated request for an order (new event id) takes nothing and answers the same", async () => {
  await using f = await pointFixture();
  const userId = await f.user(1000);
  const orderId = f.orderId();
  await f.deliver(deduct, { orderId, userId, amount: 300 });
  const again = await f.deliver(deduct, { orderId, userId, amount: 300 });
  assert.deepEqual(again, { deducted: true, userId, amount: 300 });
  assert.equal(await f.balanceOf(userId), 700);
  const sent = await f.sent(orderId);
  assert.deepEqual(sent.map((e) => [e.eventType, e.payload.balance]), [
    ["PointsDeducted", 700],
    ["PointsDeducted", 700],
  ]);
});

Deno.test("a deduction that a restore overtook is refused with order_cancelled", async () => {
  await using f = await pointFixture();
  const userId = await f.user(1000);
  const orderId = f.orderId();
  await f.deliver(restore, { orderId, userId, amount: 300 });
  const outcome = await f.deliver(deduct, { orderId, userId, amount: 300 });
  assert.deepEqual(outcome, { deducted: false, userId, reason: "order_cancelled" });
  assert.equal(await f.balanceOf(userId), 1000);
});

Deno.test("concurrent deductions never take more than the balance", async () => {
  await using f = await pointFixture();
  const userId = await f.user(1000);
  const outcomes = await Promise.all(
    Array.from(
      { length: 8 },
      () => f.deliver(deduct, { orderId: f.orderId(), userId, amount: 300 }),
    ),
  );
  assert.equal(outcomes.filter((o) => o?.deducted).length, 3);
  assert.equal(await f.balanceOf(userId), 100);
  assert.equal(await f.movementsOf(userId), 100);
});

Deno.test("a payload that breaks the contract is refused and writes nothing", async () => {
  await using f = await pointFixture();
  const userId = await f.user(1000);
  const orderId = f.orderId();
  for (const bad of [{ orderId, userId, amount: 0 }, { orderId, userId, amount: "5" }, {}]) {
    await assert.rejects(f.deliver(deduct, bad), InvalidPayloadError);
  }
  assert.equal(await f.balanceOf(userId), 1000);
  assert.equal(await f.deduction(orderId), null);
  assert.deepEqual(await f.sent(orderId), []);
});
