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
 * `compensation-events` keyed by order id (SPEC §3.2, §7.3). Every reply,
 * StockRestored included, goes on `stock-events` keyed by product id: the
 * order service reads its replies from the participants' topics.
 *
 * | event                   | topic               | key        | from → to          |
 * |-------------------------|---------------------|------------|--------------------|
 * | StockDeductionRequested | stock-events        | product id | order → inventory  |
 * | StockDeducted           | stock-events        | product id | inventory → order  |
 * | StockDeductionFailed    | stock-events        | product id | inventory → order  |
 * | StockRestoreRequested   | compensation-events | order id   | order → inventory  |
 * | StockRestored           | stock-events        | product id | inventory → order  |
 *
 * Every payload has a zod schema (`…Schema`) that consumers parse with, and
 * `stockMessages` builds the outbox event (type, topic, key, aggregate) for
 * each, so publisher and consumer cannot disagree on where a message goes.
 *
 * @module
 */
import { z } from "zod";
import type { OutboxEvent } from "../../db/mod.ts";

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

const id = z.string().min(1).max(200);
const line = z.number().int().min(0).max(10_000);
const quantity = z.number().int().positive().max(1_000_000);

export const StockDeductionRequestedSchema: z.ZodType<StockDeductionRequested> = z.object({
  orderId: id,
  userId: id,
  line,
  productId: id,
  quantity,
});

export const StockDeductedSchema: z.ZodType<StockDeducted> = z.object({
  orderId: id,
  line,
  productId: id,
  quantity,
});

export const StockDeductionFailedSchema: z.ZodType<StockDeductionFailed> = z.object({
  orderId: id,
  line,
  productId: id,
  reason: z.enum(["insufficient_stock", "unknown_product", "order_cancelled"]),
});

export const StockRestoreRequestedSchema: z.ZodType<StockRestoreRequested> = z.object({
  orderId: id,
  line,
  productId: id,
  quantity,
});

export const StockRestoredSchema: z.ZodType<StockRestored> = z.object({
  orderId: id,
  line,
  productId: id,
  wasDeducted: z.boolean(),
});

function onStockTopic(eventType: string, p: { productId: string }): OutboxEvent {
  return {
    aggregateType: "stock",
    aggregateId: p.productId,
    eventType,
    topic: STOCK_TOPIC,
    key: p.productId,
    payload: p,
  };
}

function onCompensationTopic(
  eventType: string,
  p: { orderId: string; productId: string },
): OutboxEvent {
  return {
    aggregateType: "stock",
    aggregateId: p.productId,
    eventType,
    topic: COMPENSATION_TOPIC,
    key: p.orderId,
    payload: p,
  };
}

/**
 * The outbox event of each message, for `appendOutbox(tx, …)`.
 *
 * @example
 * ```ts
 * import { stockMessages } from "./events.ts";
 *
 * const e = stockMessages.deducted({ orderId: "o-1", line: 0, productId: "p-1", quantity: 2 });
 * console.assert(e.topic === "stock-events" && e.key === "p-1");
 * ```
 */
export const stockMessages = {
  deductionRequested: (p: StockDeductionRequested): OutboxEvent =>
    onStockTopic(StockEvents.DeductionRequested, p),
  deducted: (p: StockDeducted): OutboxEvent => onStockTopic(StockEvents.Deducted, p),
  deductionFailed: (p: StockDeductionFailed): OutboxEvent =>
    onStockTopic(StockEvents.DeductionFailed, p),
  restoreRequested: (p: StockRestoreRequested): OutboxEvent =>
    onCompensationTopic(StockEvents.RestoreRequested, p),
  restored: (p: StockRestored): OutboxEvent => onStockTopic(StockEvents.Restored, p),
} as const;
