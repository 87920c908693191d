/**
 * The coupon rules: who may use a coupon when, what a usage request is
 * answered, and what a restore does, for every state.
 */
import assert from "node:assert/strict";
import {
  answerForKnownUsage,
  type Coupon,
  decideUsage,
  isExpired,
  planRestore,
  type Usage,
  type UsageState,
  UsageStateError,
} from "./usage.ts";

const now = new Date("2026-11-25T12:00:00Z");

function coupon(overrides: Partial<Coupon> = {}): Coupon {
  return {
    id: "c-1",
    userId: "u-1",
    discount: 3000,
    status: "AVAILABLE",
    usedByOrder: null,
    expiresAt: null,
    ...overrides,
  };
}

function usage(state: UsageState, extra: Partial<Usage> = {}): Usage {
  return { orderId: "o-1", couponId: "c-1", state, reason: null, discount: null, ...extra };
}

Deno.test("decideUsage() lets the owner use an available, unexpired coupon", () => {
  assert.deepEqual(decideUsage(coupon(), "u-1", now), { used: true, discount: 3000 });
  assert.deepEqual(
    decideUsage(coupon({ expiresAt: new Date("2026-11-25T12:00:01Z") }), "u-1", now),
    { used: true, discount: 3000 },
  );
});

Deno.test("decideUsage() refuses, in order: unknown, not the owner's, used, expired", () => {
  const expired = new Date("2026-11-25T11:59:59Z");
  assert.deepEqual(decideUsage(null, "u-1", now), { used: false, reason: "unknown_coupon" });
  assert.deepEqual(
    decideUsage(coupon({ status: "USED", usedByOrder: "o-9", expiresAt: expired }), "u-2", now),
    { used: false, reason: "not_owner" },
  );
  assert.deepEqual(
    decideUsage(coupon({ status: "USED", usedByOrder: "o-9", expiresAt: expired }), "u-1", now),
    { used: false, reason: "already_used" },
  );
  assert.deepEqual(decideUsage(coupon({ expiresAt: expired }), "u-1", now), {
    used: false,
    reason: "expired",
  });
});

Deno.test("isExpired() counts the expiry instant as expired; no expiry never expires", () => {
  assert.equal(isExpired({ expiresAt: now }, now), true);
  assert.equal(isExpired({ expiresAt: null }, now), false);
});

Deno.test("answerForKnownUsage() repeats the first answer, or refuses a cancelled order", () => {
  assert.deepEqual(answerForKnownUsage(usage("USED", { discount: 3000 })), {
    used: true,
    discount: 3000,
  });
  assert.deepEqual(answerForKnownUsage(usage("FAILED", { reason: "expired" })), {
    used: false,
    reason: "expired",
  });
  for (const state of ["RESTORED", "CANCELLED"] as const) {
    assert.deepEqual(answerForKnownUsage(usage(state)), {
      used: false,
      reason: "order_cancelled",
    });
  }
});

Deno.test("planRestore() tombstones the unknown, releases a used coupon, once", () => {
  assert.deepEqual(planRestore(null), { kind: "tombstone" });
  assert.deepEqual(planRestore(usage("USED", { discount: 1 })), { kind: "release" });
  assert.deepEqual(planRestore(usage("RESTORED")), { kind: "nothing", wasUsed: true });
  assert.deepEqual(planRestore(usage("FAILED", { reason: "not_owner" })), {
    kind: "nothing",
    wasUsed: false,
  });
  assert.deepEqual(planRestore(usage("CANCELLED")), { kind: "nothing", wasUsed: false });
});

Deno.test("the rules refuse states a usage is never left in", () => {
  assert.throws(() => answerForKnownUsage(usage("PENDING")), UsageStateError);
  assert.throws(() => answerForKnownUsage(usage("USED")), UsageStateError);
  assert.throws(() => answerForKnownUsage(usage("FAILED")), UsageStateError);
  assert.throws(() => planRestore(usage("PENDING")), UsageStateError);
});
