/**
 * StockDeductionRequested (order → inventory, `stock-events`): take the
 * line's quantity from the product's stock, and answer StockDeducted or
 * StockDeductionFailed, in the consumer's transaction (after its inbox
 * claim), through the outbox.
 *
 * @module
 */
import { appendOutbox, type Tx } from "../../../db/mod.ts";
import { withOutbox } from "../../../db/outbox.ts";
import {
  answerForKnownLine,
  attemptOutcome,
  type DeductionOutcome,
  settledState,
} from "../domain/line.ts";
import { StockDeductionRequestedSchema, StockEvents, stockMessages } from "../events.ts";
import { claimAndTakeStock, lockLine, setLineState } from "../store.ts";
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
  // A new line: claim and take in one statement, then its final state and
  // the answer in one (issue 16 item 4). A known line: its answer again.
  const attempt = await claimAndTakeStock(tx, req);
  let settle = null;
  if (attempt.claimed) {
    outcome = attemptOutcome(req, attempt.taken, attempt.productExists);
    const { state, reason } = settledState(outcome);
    settle = setLineState(tx, req.orderId, req.line, state, reason);
  } else {
    const line = await lockLine(tx, req.orderId, req.line);
    if (line === null) throw new Error(`line ${req.orderId}/${req.line} vanished`);
    outcome = answerForKnownLine(line);
  }
  const reply = outcome.deducted
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
    });
  await (settle ? withOutbox(tx, settle, [reply]) : appendOutbox(tx, reply));
  return outcome;
}
