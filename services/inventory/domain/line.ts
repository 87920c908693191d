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
import type { StockDeductionFailed } from "../events.ts";

/** Where a line is; PENDING exists only inside the deducting transaction. */
export type LineState = "PENDING" | "DEDUCTED" | "FAILED" | "RESTORED" | "CANCELLED";

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
  return outcome.deducted
    ? { state: "DEDUCTED", reason: null }
    : { state: "FAILED", reason: outcome.reason };
}

/**
 * The answer to a deduction request for a line already known: the same
 * answer as the first time for a repeated request; `order_cancelled` when a
 * restore came first (or already undid it). Nothing is taken either way.
 */
export function answerForKnownLine(line: Line): DeductionOutcome {
  switch (line.state) {
    case "DEDUCTED":
      return { deducted: true, productId: line.productId, quantity: line.quantity };
    case "FAILED":
      if (line.reason === null) throw new LineStateError("a FAILED line without a reason");
      return { deducted: false, productId: line.productId, reason: line.reason };
    case "RESTORED":
    case "CANCELLED":
      return { deducted: false, productId: line.productId, reason: "order_cancelled" };
    case "PENDING":
      throw new LineStateError("a PENDING line outside its transaction");
  }
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
  if (line === null) return { kind: "tombstone" };
  switch (line.state) {
    case "DEDUCTED":
      return { kind: "give_back", productId: line.productId, quantity: line.quantity };
    case "RESTORED":
      return { kind: "nothing", productId: line.productId, wasDeducted: true };
    case "FAILED":
    case "CANCELLED":
      return { kind: "nothing", productId: line.productId, wasDeducted: false };
    case "PENDING":
      throw new LineStateError("a PENDING line outside its transaction");
  }
}
