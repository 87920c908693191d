/**
 * The order-points rules: what a deduction is answered and what a restore
 * does, for every state an order's record can be in.
 */
import assert from "node:assert/strict";
import {
  answerForKnown,
  attemptOutcome,
  type Deduction,
  type DeductionState,
  DeductionStateError,
  planRestore,
  settledState,
} from "./deduction.ts";

function record(state: DeductionState, reason: Deduction["reason"] = null): Deduction {
  return { orderId: "o-1", userId: "u-1", amount: 500, state, reason };
}

const req = { userId: "u-1", amount: 500 };

Deno.test("attemptOutcome() is a deduction when the guarded update took the points", () => {
  assert.deepEqual(attemptOutcome(req, true, true), { deducted: true, userId: "u-1", amount: 500 });
});

Deno.test("attemptOutcome() tells too few points from an unknown user", () => {
  assert.deepEqual(attemptOutcome(req, false, true), {
    deducted: false,
    userId: "u-1",
    reason: "insufficient_points",
  });
  assert.deepEqual(attemptOutcome(req, false, false), {
    deducted: false,
    userId: "u-1",
    reason: "unknown_user",
  });
});

Deno.test("settledState() records a failure with its reason", () => {
  assert.deepEqual(settledState(attemptOutcome(req, true, true)), {
    state: "DEDUCTED",
    reason: null,
  });
  assert.deepEqual(settledState(attemptOutcome(req, false, true)), {
    state: "FAILED",
    reason: "insufficient_points",
  });
});

Deno.test("answerForKnown() repeats the first answer, or refuses a cancelled order", () => {
  assert.deepEqual(answerForKnown(record("DEDUCTED")), {
    deducted: true,
    userId: "u-1",
    amount: 500,
  });
  assert.deepEqual(answerForKnown(record("FAILED", "unknown_user")), {
    deducted: false,
    userId: "u-1",
    reason: "unknown_user",
  });
  for (const state of ["RESTORED", "CANCELLED"] as const) {
    assert.deepEqual(answerForKnown(record(state)), {
      deducted: false,
      userId: "u-1",
      reason: "order_cancelled",
    });
  }
});

Deno.test("planRestore() tombstones the unknown, gives back the deducted, once", () => {
  assert.deepEqual(planRestore(null), { kind: "tombstone" });
  assert.deepEqual(planRestore(record("DEDUCTED")), {
    kind: "give_back",
    userId: "u-1",
    amount: 500,
  });
  assert.deepEqual(planRestore(record("RESTORED")), {
    kind: "nothing",
    userId: "u-1",
    wasDeducted: true,
  });
  for (const r of [record("FAILED", "insufficient_points"), record("CANCELLED")]) {
    assert.deepEqual(planRestore(r), { kind: "nothing", userId: "u-1", wasDeducted: false });
  }
});

Deno.test("the rules refuse states a record is never left in", () => {
  assert.throws(() => answerForKnown(record("PENDING")), DeductionStateError);
  assert.throws(() => answerForKnown(record("FAILED")), DeductionStateError);
  assert.throws(() => planRestore(record("PENDING")), DeductionStateError);
});
