/**
 * What the inventory service's consumer handles: its command topic and the
 * compensation topic, one handler per event type (other types on those
 * topics — its own replies, other services' commands — are skipped by the
 * loop).
 *
 * @module
 */
import type { EventHandlers } from "../../../kit/mod.ts";
import { COMPENSATION_TOPIC, STOCK_TOPIC, StockEvents } from "../events.ts";
import { handleStockDeductionRequested } from "./stock_deduction_requested.ts";
import { handleStockRestoreRequested } from "./stock_restore_requested.ts";

export { handleStockDeductionRequested, handleStockRestoreRequested };
export { InvalidPayloadError } from "./payload.ts";

/** The topics the consumer reads. */
export const TOPICS: readonly string[] = [STOCK_TOPIC, COMPENSATION_TOPIC];

/** Handlers by event type, for `startConsumer({ handlers })`. */
export const handlers: EventHandlers = {
  [StockEvents.DeductionRequested]: async (tx, event) => {
    await handleStockDeductionRequested(tx, event.payload);
  },
  [StockEvents.RestoreRequested]: async (tx, event) => {
    await handleStockRestoreRequested(tx, event.payload);
  },
};
