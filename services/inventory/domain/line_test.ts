/**
 * The order-line rules: what a deduction is answered and what a restore
 * does, for every state a line can be in.
 */
import assert from "node:assert/strict";
import {
  answerForKnownLine,
  attemptOutcome,
  type Line,
  type LineState,
  LineStateError,
  planRestore,
  settledState,
} from "./line.ts";

function line(state: LineState, reason: Line["reason"] = null): Line {
  return { orderId: "o-1", line: 0, productId: "p-1", quantity: 3, state, reason };
}

const req = { productId: "p-1", quantity: 3 };

Deno.test("attemptOutcome() is a deduction when the guarded update took the stock", () => {
  assert.deepEqual(attemptOutcome(req, true, true), {
    deducted: true,
    productId: "p-1",
    quantity: 3,
  });
});

Deno.test("attemptOutcome() tells insufficient stock from an unknown product", () => {
  assert.deepEqual(attemptOutcome(req, false, true), {
    deducted: false,
    productId: "p-1",
    reason: "insufficient_stock",
  });
  assert.deepEqual(attemptOutcome(req, false, false), {
    deducted: false,
    productId: "p-1",
    reason: "unknown_product",
  });
});

Deno.test("settledState() records a failure with its reason", () => {
  assert.deepEqual(settledState(attemptOutcome(req, true, true)), {
    state: "DEDUCTED",
    reason: null,
  });
  assert.deepEqual(settledState(attemptOutcome(req, false, false)), {
    state: "FAILED",
    reason: "unknown_product",
  });
});

Deno.test("answerForKnownLine() repeats the first answer of a line seen before", () => {
  assert.deepEqual(answerForKnownLine(line("DEDUCTED")), {
    deducted: true,
    productId: "p-1",
    quantity: 3,
  });
  assert.deepEqual(answerForKnownLine(line("FAILED", "insufficient_stock")), {
    deducted: false,
    productId: "p-1",
    reason: "insufficient_stock",
  });
});

Deno.test("answerForKnownLine() refuses a line that was restored or tombstoned", () => {
  for (const state of ["RESTORED", "CANCELLED"] as const) {
    assert.deepEqual(answerForKnownLine(line(state)), {
      deducted: false,
      productId: "p-1",
      reason: "order_cancelled",
    });
  }
});

Deno.test("answerForKnownLine() and planRestore() refuse impossible states", () => {
  assert.throws(() => answerForKnownLine(line("PENDING")), LineStateError);
  assert.throws(() => answerForKnownLine(line("FAILED")), LineStateError);
  assert.throws(() => planRestore(line("PENDING")), LineStateError);
});

Deno.test("planRestore() tombstones a line never seen", () => {
  assert.deepEqual(planRestore(null), { kind: "tombstone" });
});

Deno.test("planRestore() gives back only a deducted line, and only once", () => {
  assert.deepEqual(planRestore(line("DEDUCTED")), {
    kind: "give_back",
    productId: "p-1",
    quantity: 3,
  });
  assert.deepEqual(planRestore(line("RESTORED")), {
    kind: "nothing",
    productId: "p-1",
    wasDeducted: true,
  });
  for (const l of [line("FAILED", "insufficient_stock"), line("CANCELLED")]) {
    assert.deepEqual(planRestore(l), { kind: "nothing", productId: "p-1", wasDeducted: false });
  }
});
