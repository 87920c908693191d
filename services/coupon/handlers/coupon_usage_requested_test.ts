/**
 * CouponUsageRequested against the real Postgres: a coupon is used at most
 * once, only by its owner, before it expires, and the answer is written to
 * the outbox in the same transaction.
 */
import assert from "node:assert/strict";
import { couponFixture } from "../testing.ts";
import { handleCouponRestoreRequested as restore } from "./coupon_restore_requested.ts";
import { handleCouponUsageRequested as use } from "./coupon_usage_requested.ts";
import { InvalidPayloadError } from "./payload.ts";

Deno.test("the owner uses an available coupon: CouponUsed with its discount", async () => {
  await using f = await couponFixture();
  const userId = f.userId();
  const couponId = await f.coupon(userId, { discount: 5000 });
  const orderId = f.orderId();
  const outcome = await f.deliver(use, { orderId, userId, couponId });
  assert.deepEqual(outcome, { used: true, discount: 5000 });
  const coupon = await f.find(couponId);
  assert.equal(coupon?.status, "USED");
  assert.equal(coupon?.usedByOrder, orderId);
  assert.ok(coupon?.usedAt instanceof Date);
  assert.equal((await f.usage(orderId, couponId))?.state, "USED");
  assert.deepEqual(await f.sent(orderId), [{
    eventType: "CouponUsed",
    topic: "coupon-events",
    key: couponId,
    payload: { orderId, couponId, discount: 5000 },
  }]);
});

Deno.test("an unknown coupon fails with unknown_coupon", async () => {
  await using f = await couponFixture();
  const couponId = f.couponId();
  const orderId = f.orderId();
  assert.deepEqual(await f.deliver(use, { orderId, userId: f.userId(), couponId }), {
    used: false,
    reason: "unknown_coupon",
  });
  assert.deepEqual(await f.sent(orderId), [{
    eventType: "CouponUsageFailed",
    topic: "coupon-events",
    key: couponId,
    payload: { orderId, couponId, reason: "unknown_coupon" },
  }]);
});

Deno.test("someone else's coupon fails with not_owner and stays available", async () => {
  await using f = await couponFixture();
  const couponId = await f.coupon(f.userId());
  const outcome = await f.deliver(use, { orderId: f.orderId(), userId: f.userId(), couponId });
  assert.deepEqual(outcome, { used: false, reason: "not_owner" });
  assert.equal((await f.find(couponId))?.status, "AVAILABLE");
});

Deno.test("a coupon used by one order fails with already_used for the next", async () => {
  await using f = await couponFixture();
  const userId = f.userId();
  const couponId = await f.coupon(userId);
  const first = f.orderId();
  await f.deliver(use, { orderId: first, userId, couponId });
  const second = f.orderId();
  assert.deepEqual(await f.deliver(use, { orderId: second, userId, couponId }), {
    used: false,
    reason: "already_used",
  });
  assert.equal((await f.find(couponId))?.usedByOrder, first);
  assert.equal((await f.usage(second, couponId))?.reason, "already_used");
});

Deno.test("an expired coupon fails with expired", async () => {
  await using f = await couponFixture();
  const userId = f.userId();
  const couponId = await f.coupon(userId, { expiresAt: new Date(Date.now() - 1000) });
  assert.deepEqual(await f.deliver(use, { orderId: f.orderId(), userId, couponId }), {
    used: false,
    reason: "expired",
  });
  assert.equal((await f.find(couponId))?.status, "AVAILABLE");
});

Deno.test("the same event delivered twice is handled once (inbox)", async () => {
  await using f = await couponFixture();
  const userId = f.userId();
  const couponId = await f.coupon(userId);
  const orderId = f.orderId();
  const eventId = crypto.randomUUID();
  assert.ok(await f.deliver(use, { orderId, userId, couponId }, eventId));
  assert.equal(await f.deliver(use, { orderId, userId, couponId }, eventId), undefined);
  assert.equal((await f.sent(orderId)).length, 1);
});

Deno.test("a repeated request of the same order (new event id) answers CouponUsed again", async () => {
  await using f = await couponFixture();
  const userId = f.userId();
  const couponId = await f.coupon(userId);
  const orderId = f.orderId();
  await f.deliver(use, { orderId, userId, couponId });
  assert.deepEqual(await f.deliver(use, { orderId, userId, couponId }), {
    used: true,
    discount: 3000,
  });
  assert.deepEqual((await f.sent(orderId)).map((e) => e.eventType), ["CouponUsed", "CouponUsed"]);
});

Deno.test("a usage that a restore overtook is refused with order_cancelled", async () => {
  await using f = await couponFixture();
  const userId = f.userId();
  const couponId = await f.coupon(userId);
  const orderId = f.orderId();
  await f.deliver(restore, { orderId, couponId });
  assert.deepEqual(await f.deliver(use, { orderId, userId, couponId }), {
    used: false,
    reason: "order_cancelled",
  });
  assert.equal((await f.find(couponId))?.status, "AVAILABLE");
});

Deno.test("many orders racing for one coupon: exactly one gets it", async () => {
  await using f = await couponFixture();
  const userId = f.userId();
  const couponId = await f.coupon(userId);
  const orders = Array.from({ length: 10 }, () => f.orderId());
  const outcomes = await Promise.all(
    orders.map((orderId) => f.deliver(use, { orderId, userId, couponId })),
  );
  assert.equal(outcomes.filter((o) => o?.used).length, 1);
  const winner = orders[outcomes.findIndex((o) => o?.used)];
  assert.equal((await f.find(couponId))?.usedByOrder, winner);
});

Deno.test("the database refuses a second USED usage of one coupon", async () => {
  await using f = await couponFixture();
  const userId = f.userId();
  const couponId = await f.coupon(userId);
  await f.deliver(use, { orderId: f.orderId(), userId, couponId });
  const other = f.orderId();
  await assert.rejects(
    f.sql`insert into usages (order_id, coupon_id, user_id, state, discount)
          values (${other}, ${couponId}, ${userId}, 'USED', 1)`,
    (err: { code?: string }) => err.code === "23505",
  );
});

Deno.test("a payload that breaks the contract is refused and writes nothing", async () => {
  await using f = await couponFixture();
  const userId = f.userId();
  const couponId = await f.coupon(userId);
  const orderId = f.orderId();
  for (const bad of [{ orderId, userId }, { orderId, userId, couponId: 7 }, null]) {
    await assert.rejects(f.deliver(use, bad), InvalidPayloadError);
  }
  assert.equal((await f.find(couponId))?.status, "AVAILABLE");
  assert.deepEqual(await f.sent(orderId), []);
});
