/**
 * StockDeductionRequested (order → inventory, `stock-events`): take the
 * line's quantity from the product's stock, and answer StockDeducted or
 * StockDeductionFailed, in the consumer's transaction (after its inbox
 * claim), through the outbox.
 *
 * @module
 */
import { appendOutbox, type Tx } from "../../../db/mod.ts";
import {
  answerForKnownLine,
  attemptOutcome,
  type DeductionOutcome,
  settledState,
} from "../domain/line.ts";
import { StockDeductionRequestedSchema, StockEvents, stockMessages } from "../events.ts";
import { claimLine, lockLine, productExists, setLineState, takeStock } from "../store.ts";
import { parsePayload } from "./payload.ts";

/**
 * Decides the request and publishes the answer. A line seen before (a
 * repeated request, or one a restore overtook) takes nothing: it gets the
 * first answer again, or `order_cancelled`.
 */
export async function handleStockDeductionRequested(
  tx: Tx,
  payload: unknown,
): Promise<DeductionOutcome> {
  const req = parsePayload(
    StockDeductionRequestedSchema,
    StockEvents.DeductionRequested,
    payload,
  );
  let outcome: DeductionOutcome;
  // The line's final state and the answer are written together (pipelined:
  // one round trip, issued in this order).
  let settled: Promise<void> = Promise.resolve();
  if (await claimLine(tx, req, "PENDING")) {
    const taken = await takeStock(tx, req.productId, req.quantity);
    outcome = attemptOutcome(req, taken, taken || await productExists(tx, req.productId));
    const { state, reason } = settledState(outcome);
    settled = setLineState(tx, req.orderId, req.line, state, reason);
  } else {
    const line = await lockLine(tx, req.orderId, req.line);
    if (line === null) throw new Error(`line ${req.orderId}/${req.line} vanished`);
    outcome = answerForKnownLine(line);
  }
  await Promise.all([
    settled,
    appendOutbox(
      tx,
      outcome.deducted
        ? stockMessages.deducted({
          orderId: req.orderId,
          line: req.line,
          productId: outcome.productId,
          quantity: outcome.quantity,
        })
        : stockMessages.deductionFailed({
          orderId: req.orderId,
          line: req.line,
          productId: outcome.productId,
          reason: outcome.reason,
        }),
    ),
  ]);
  return outcome;
}
