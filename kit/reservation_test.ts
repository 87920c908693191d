/**
 * The shared reservation rules: what a repeated request is answered and what
 * a restore does, for every state a record can be in, under any service's
 * names.
 */
import assert from "node:assert/strict";
import { reservationRules, type ReservationState } from "./reservation.ts";

class TestStateError extends Error {
  override name = "TestStateError";
}

const rules = reservationRules({ taken: "USED", noun: "usage", stateError: TestStateError });

type Reason = "expired" | "order_cancelled";

function record(state: ReservationState<"USED">, reason: Reason | null = null) {
  return { state, reason };
}

Deno.test("settledState() settles in the service's taken state, or FAILED with its reason", () => {
  assert.deepEqual(rules.settledState({ taken: true }), { state: "USED", reason: null });
  assert.deepEqual(rules.settledState({ taken: false, reason: "expired" }), {
    state: "FAILED",
    reason: "expired",
  });
});

Deno.test("answerForKnown() repeats the first answer of a record seen before", () => {
  assert.deepEqual(rules.answerForKnown(record("USED")), { taken: true });
  assert.deepEqual(rules.answerForKnown(record("FAILED", "expired")), {
    taken: false,
    reason: "expired",
  });
});

Deno.test("answerForKnown() refuses a record that was restored or tombstoned", () => {
  for (const state of ["RESTORED", "CANCELLED"] as const) {
    assert.deepEqual(rules.answerForKnown(record(state)), {
      taken: false,
      reason: "order_cancelled",
    });
  }
});

Deno.test("planRestore() tombstones a record never seen", () => {
  assert.deepEqual(rules.planRestore(null), { kind: "tombstone" });
});

Deno.test("planRestore() gives back only a taken record, and only once", () => {
  assert.deepEqual(rules.planRestore(record("USED")), { kind: "give_back" });
  assert.deepEqual(rules.planRestore(record("RESTORED")), { kind: "nothing", wasTaken: true });
  for (const r of [record("FAILED", "expired"), record("CANCELLED")]) {
    assert.deepEqual(rules.planRestore(r), { kind: "nothing", wasTaken: false });
  }
});

Deno.test("the rules refuse states a record is never left in, with the service's error", () => {
  assert.throws(() => rules.answerForKnown(record("PENDING")), {
    name: "TestStateError",
    message: "a PENDING usage outside its transaction",
  });
  assert.throws(() => rules.answerForKnown(record("FAILED")), {
    name: "TestStateError",
    message: "a FAILED usage without a reason",
  });
  assert.throws(() => rules.planRestore(record("PENDING")), TestStateError);
});

Deno.test("another service's taken state is not this one's", () => {
  const stock = reservationRules({ taken: "DEDUCTED", noun: "line", stateError: TestStateError });
  assert.deepEqual(stock.planRestore({ state: "DEDUCTED", reason: null }), { kind: "give_back" });
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => stock.planRestore({ state: "USED" as any, reason: null }),
    TestStateError,
  );
});
