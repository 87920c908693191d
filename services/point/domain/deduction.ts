/**
 * The rules for an order's points, with no I/O: what a deduction request is
 * answered, and what a restore does, given what is already known about the
 * order. The store runs the SQL these decisions call for.
 *
 * One record per order:
 *
 * ```
 *  deduction first:  PENDING ─┬→ DEDUCTED ──restore──→ RESTORED
 *                             └→ FAILED (insufficient_points | unknown_user)
 *  restore first:    CANCELLED   (tombstone: the late deduction is refused)
 * ```
 *
 * @module
 */
import { reservationRules, type ReservationState } from "../../../kit/reservation.ts";
import type { PointDeductionFailed } from "../events.ts";

/** Where an order's deduction is; PENDING exists only inside the deducting transaction. */
export type DeductionState = ReservationState<"DEDUCTED">;

/** Why a deduction was refused. */
export type DeductionFailure = PointDeductionFailed["reason"];

/** What the service knows about an order's points. */
export interface Deduction {
  orderId: string;
  userId: string;
  amount: number;
  state: DeductionState;
  reason: DeductionFailure | null;
}

/** The answer to a deduction request. */
export type DeductionOutcome =
  | { deducted: true; userId: string; amount: number }
  | { deducted: false; userId: string; reason: DeductionFailure };

/** Thrown for a state the rules never leave a record in. */
export class DeductionStateError extends Error {
  override name = "DeductionStateError";
}

const rules = reservationRules({
  taken: "DEDUCTED",
  noun: "deduction",
  stateError: DeductionStateError,
});

/**
 * What a first deduction attempt amounts to: `taken` is whether the guarded
 * update (`balance = balance - a where balance >= a`) changed a row,
 * `userKnown` whether the user has a balance at all.
 */
export function attemptOutcome(
  request: { userId: string; amount: number },
  taken: boolean,
  userKnown: boolean,
): DeductionOutcome {
  if (taken) return { deducted: true, userId: request.userId, amount: request.amount };
  return {
    deducted: false,
    userId: request.userId,
    reason: userKnown ? "insufficient_points" : "unknown_user",
  };
}

/** The state a record settles in after its first deduction attempt. */
export function settledState(
  outcome: DeductionOutcome,
): { state: "DEDUCTED" | "FAILED"; reason: DeductionFailure | null } {
  return rules.settledState(
    outcome.deducted ? { taken: true } : { taken: false, reason: outcome.reason },
  );
}

/**
 * The answer to a deduction request for an order already known: the first
 * answer again for a repeated request; `order_cancelled` when a restore came
 * first or already undid it. Nothing is taken either way.
 */
export function answerForKnown(d: Deduction): DeductionOutcome {
  const answer = rules.answerForKnown(d);
  return answer.taken
    ? { deducted: true, userId: d.userId, amount: d.amount }
    : { deducted: false, userId: d.userId, reason: answer.reason };
}

/** What a restore request does. */
export type RestorePlan =
  /** The order was never seen: record a CANCELLED tombstone. */
  | { kind: "tombstone" }
  /** Give the deducted amount back to the user and mark it RESTORED. */
  | { kind: "give_back"; userId: string; amount: number }
  /** Nothing to do (refused, already restored, or already a tombstone). */
  | { kind: "nothing"; userId: string; wasDeducted: boolean };

/** Only a DEDUCTED order gets its points back, once; a second restore changes nothing. */
export function planRestore(d: Deduction | null): RestorePlan {
  const step = rules.planRestore(d);
  if (d === null || step.kind === "tombstone") return { kind: "tombstone" };
  return step.kind === "give_back"
    ? { kind: "give_back", userId: d.userId, amount: d.amount }
    : { kind: "nothing", userId: d.userId, wasDeducted: step.wasTaken };
}
