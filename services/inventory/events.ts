/**
 * The inventory service's contract: the commands it consumes and the events
 * it publishes (other services import this file, never its internals).
 *
 * Topic `stock-events`, keyed by product id (SPEC §3.2). A multi-product
 * order becomes one StockDeductionRequested per order line, each keyed by its
 * product: every product's stock is changed by one partition's consumer in
 * order, with no lock contention between products; the order service counts
 * the per-line replies (the stock step succeeds when every line did).
 * Compensation: StockRestoreRequested per deducted line, on
 * `compensation-events` keyed by order id (SPEC §3.2, §7.3).
 *
 * @module
 */

export const STOCK_TOPIC = "stock-events";
export const COMPENSATION_TOPIC = "compensation-events";

/** Order → inventory: take `quantity` of `productId` for the order line. */
export interface StockDeductionRequested {
  orderId: string;
  userId: string;
  line: number;
  productId: string;
  quantity: number;
}

/** Inventory → order: the line's stock was taken. */
export interface StockDeducted {
  orderId: string;
  line: number;
  productId: string;
  quantity: number;
}

/** Inventory → order: the line's stock was not taken, and why. */
export interface StockDeductionFailed {
  orderId: string;
  line: number;
  productId: string;
  reason: "insufficient_stock" | "unknown_product" | "order_cancelled";
}

/** Order → inventory (compensation): give the line's stock back. */
export interface StockRestoreRequested {
  orderId: string;
  line: number;
  productId: string;
  quantity: number;
}

/** Inventory → order: the line's stock is back (or was never taken). */
export interface StockRestored {
  orderId: string;
  line: number;
  productId: string;
  /** False when the restore overtook its deduction, which will now be refused. */
  wasDeducted: boolean;
}

export const StockEvents = {
  DeductionRequested: "StockDeductionRequested",
  Deducted: "StockDeducted",
  DeductionFailed: "StockDeductionFailed",
  RestoreRequested: "StockRestoreRequested",
  Restored: "StockRestored",
} as const;
