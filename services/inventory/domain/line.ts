/**
 * The rules for one order line's stock, with no I/O: what a deduction
 * request is answered, and what a restore does, given what is already known
 * about the line. The store runs the SQL these decisions call for.
 *
 * A line's life (one row per order id and line number):
 *
 * ```
 *  deduction first:  PENDING ─┬→ DEDUCTED ──restore──→ RESTORED
 *                             └→ FAILED (insufficient_stock | unknown_product)
 *  restore first:    CANCELLED   (tombstone: the late deduction is refused)
 * ```
 *
 * @module
 */
import { reservationRules, type ReservationState } from "../../../kit/reservation.ts";
import type { StockDeductionFailed } from "../events.ts";

/** Where a line is; PENDING exists only inside the deducting transaction. */
export type LineState = ReservationState<"DEDUCTED">;

/** Why a deduction was refused. */
export type DeductionFailure = StockDeductionFailed["reason"];

/** What the service knows about an order line. */
export interface Line {
  orderId: string;
  line: number;
  productId: string;
  quantity: number;
  state: LineState;
  reason: DeductionFailure | null;
}

/** The answer to a deduction request. */
export type DeductionOutcome =
  | { deducted: true; productId: string; quantity: number }
  | { deducted: false; productId: string; reason: DeductionFailure };

/** Thrown when a line is in a state the rules never leave it in (a bug, or a hand-edited row). */
export class LineStateError extends Error {
  override name = "LineStateError";
}

const rules = reservationRules({ taken: "DEDUCTED", noun: "line", stateError: LineStateError });

/**
 * What a first deduction attempt amounts to: `taken` is whether the guarded
 * update (`stock = stock - q where stock >= q`) changed a row,
 * `productExists` whether the product is there at all.
 */
export function attemptOutcome(
  request: { productId: string; quantity: number },
  taken: boolean,
  productExists: boolean,
): DeductionOutcome {
  if (taken) return { deducted: true, productId: request.productId, quantity: request.quantity };
  return {
    deducted: false,
    productId: request.productId,
    reason: productExists ? "insufficient_stock" : "unknown_product",
  };
}

/** The state a line settles in after its first deduction attempt. */
export function settledState(
  outcome: DeductionOutcome,
): { state: "DEDUCTED" | "FAILED"; reason: DeductionFailure | null } {
  return rules.settledState(
    outcome.deducted ? { taken: true } : { taken: false, reason: outcome.reason },
  );
}

/**
 * The answer to a deduction request for a line already known: the same
 * answer as the first time for a repeated request; `order_cancelled` when a
 * restore came first (or already undid it). Nothing is taken either way.
 */
export function answerForKnownLine(line: Line): DeductionOutcome {
  const answer = rules.answerForKnown(line);
  return answer.taken
    ? { deducted: true, productId: line.productId, quantity: line.quantity }
    : { deducted: false, productId: line.productId, reason: answer.reason };
}

/** What a restore request does to a line. */
export type RestorePlan =
  /** The line was never seen: record a CANCELLED tombstone, so its deduction is refused. */
  | { kind: "tombstone" }
  /** Give the line's quantity back to its product and mark it RESTORED. */
  | { kind: "give_back"; productId: string; quantity: number }
  /** Nothing to do (refused, already restored, or already a tombstone). */
  | { kind: "nothing"; productId: string; wasDeducted: boolean };

/**
 * The restore rule: only a DEDUCTED line gives stock back, once; a second
 * restore changes nothing and is answered as the first one was.
 */
export function planRestore(line: Line | null): RestorePlan {
  const step = rules.planRestore(line);
  if (line === null || step.kind === "tombstone") return { kind: "tombstone" };
  return step.kind === "give_back"
    ? { kind: "give_back", productId: line.productId, quantity: line.quantity }
    : { kind: "nothing", productId: line.productId, wasDeducted: step.wasTaken };
}
