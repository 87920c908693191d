/**
 * StockRestoreRequested (order → inventory, `compensation-events`): give a
 * deducted line's stock back, once, and answer StockRestored, in the
 * consumer's transaction, through the outbox. A restore that overtook its
 * deduction leaves a tombstone, so the late deduction is refused.
 *
 * @module
 */
import { appendOutbox, type Tx } from "../../../db/mod.ts";
import { planRestore } from "../domain/line.ts";
import {
  StockEvents,
  stockMessages,
  type StockRestored,
  StockRestoreRequestedSchema,
} from "../events.ts";
import { claimLine, giveBackStock, lockLine, setLineState } from "../store.ts";
import { parsePayload } from "./payload.ts";

/** Restores the line if it was deducted and not yet restored; returns the reply. */
export async function handleStockRestoreRequested(
  tx: Tx,
  payload: unknown,
): Promise<StockRestored> {
  const req = parsePayload(StockRestoreRequestedSchema, StockEvents.RestoreRequested, payload);
  // Never seen: claimLine records the tombstone. Seen: the line, locked.
  let known = null;
  if (!await claimLine(tx, req, "CANCELLED")) {
    known = await lockLine(tx, req.orderId, req.line);
    if (known === null) throw new Error(`line ${req.orderId}/${req.line} vanished`);
  }
  const plan = planRestore(known);
  let reply: StockRestored;
  switch (plan.kind) {
    case "tombstone":
      reply = {
        orderId: req.orderId,
        line: req.line,
        productId: req.productId,
        wasDeducted: false,
      };
      break;
    case "give_back":
      await giveBackStock(tx, plan.productId, plan.quantity);
      await setLineState(tx, req.orderId, req.line, "RESTORED");
      reply = {
        orderId: req.orderId,
        line: req.line,
        productId: plan.productId,
        wasDeducted: true,
      };
      break;
    case "nothing":
      reply = {
        orderId: req.orderId,
        line: req.line,
        productId: plan.productId,
        wasDeducted: plan.wasDeducted,
      };
      break;
  }
  await appendOutbox(tx, stockMessages.restored(reply));
  return reply;
}
