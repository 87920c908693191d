/**
 * CouponRestoreRequested against the real Postgres: the coupon becomes
 * available again only if this order used it, once, and a restore that
 * overtakes its usage leaves a tombstone.
 */
import assert from "node:assert/strict";
import { couponFixture } from "../testing.ts";
import { handleCouponRestoreRequested as restore } from "./coupon_restore_requested.ts";
import { handleCouponUsageRequested as use } from "./coupon_usage_requested.ts";

Deno.test("a restore makes the order's coupon available again and answers CouponRestored", async () => {
  await using f = await couponFixture();
  const userId = f.userId();
  const couponId = await f.coupon(userId);
  const orderId = f.orderId();
  await f.deliver(use, { orderId, userId, couponId });
  const reply = await f.deliver(restore, { orderId, couponId });
  assert.deepEqual(reply, { orderId, couponId, wasUsed: true });
  const coupon = await f.find(couponId);
  assert.equal(coupon?.status, "AVAILABLE");
  assert.equal(coupon?.usedByOrder, null);
  assert.equal((await f.usage(orderId, couponId))?.state, "RESTORED");
  assert.deepEqual((await f.sent(orderId))[1], {
    eventType: "CouponRestored",
    topic: "coupon-events",
    key: couponId,
    payload: { orderId, couponId, wasUsed: true },
  });
});

Deno.test("a restored coupon can be used by another order", async () => {
  await using f = await couponFixture();
  const userId = f.userId();
  const couponId = await f.coupon(userId);
  const first = f.orderId();
  await f.deliver(use, { orderId: first, userId, couponId });
  await f.deliver(restore, { orderId: first, couponId });
  const second = f.orderId();
  assert.deepEqual(await f.deliver(use, { orderId: second, userId, couponId }), {
    used: true,
    discount: 3000,
  });
  assert.equal((await f.find(couponId))?.usedByOrder, second);
});

Deno.test("a restore by an order that did not use the coupon leaves it with its user", async () => {
  await using f = await couponFixture();
  const userId = f.userId();
  const couponId = await f.coupon(userId);
  const holder = f.orderId();
  await f.deliver(use, { orderId: holder, userId, couponId });
  const loser = f.orderId();
  await f.deliver(use, { orderId: loser, userId, couponId }); // already_used
  const reply = await f.deliver(restore, { orderId: loser, couponId });
  assert.deepEqual(reply, { orderId: loser, couponId, wasUsed: false });
  const coupon = await f.find(couponId);
  assert.equal(coupon?.status, "USED");
  assert.equal(coupon?.usedByOrder, holder);
});

Deno.test("a second restore (new event id) changes nothing and answers the same", async () => {
  await using f = await couponFixture();
  const userId = f.userId();
  const couponId = await f.coupon(userId);
  const first = f.orderId();
  await f.deliver(use, { orderId: first, userId, couponId });
  await f.deliver(restore, { orderId: first, couponId });
  const second = f.orderId();
  await f.deliver(use, { orderId: second, userId, couponId });
  // The first order's restore again: the second order keeps the coupon.
  assert.deepEqual(await f.deliver(restore, { orderId: first, couponId }), {
    orderId: first,
    couponId,
    wasUsed: true,
  });
  assert.equal((await f.find(couponId))?.usedByOrder, second);
});

Deno.test("the same restore event delivered twice is handled once (inbox)", async () => {
  await using f = await couponFixture();
  const userId = f.userId();
  const couponId = await f.coupon(userId);
  const orderId = f.orderId();
  await f.deliver(use, { orderId, userId, couponId });
  const eventId = crypto.randomUUID();
  assert.ok(await f.deliver(restore, { orderId, couponId }, eventId));
  assert.equal(await f.deliver(restore, { orderId, couponId }, eventId), undefined);
  assert.equal((await f.sent(orderId)).filter((e) => e.eventType === "CouponRestored").length, 1);
});

Deno.test("a restore before its usage records a tombstone and changes no coupon", async () => {
  await using f = await couponFixture();
  const userId = f.userId();
  const couponId = await f.coupon(userId);
  const orderId = f.orderId();
  assert.deepEqual(await f.deliver(restore, { orderId, couponId }), {
    orderId,
    couponId,
    wasUsed: false,
  });
  assert.equal((await f.usage(orderId, couponId))?.state, "CANCELLED");
  assert.equal((await f.find(couponId))?.status, "AVAILABLE");
});

Deno.test("a restore racing its usage: the coupon ends available either way", async () => {
  await using f = await couponFixture();
  const userId = f.userId();
  const coupons = await Promise.all(Array.from({ length: 10 }, () => f.coupon(userId)));
  const orders = coupons.map(() => f.orderId());
  await Promise.all(coupons.flatMap((couponId, i) => [
    f.deliver(use, { orderId: orders[i], userId, couponId }),
    f.deliver(restore, { orderId: orders[i], couponId }),
  ]));
  for (const [i, couponId] of coupons.entries()) {
    assert.equal((await f.find(couponId))?.status, "AVAILABLE");
    const state = (await f.usage(orders[i], couponId))?.state;
    assert.ok(state === "RESTORED" || state === "CANCELLED", String(state));
  }
});
