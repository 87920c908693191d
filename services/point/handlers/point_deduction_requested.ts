/**
 * PointDeductionRequested (order → point, `point-events`): take the order's
 * points from the user's balance, and answer PointsDeducted or
 * PointDeductionFailed, in the consumer's transaction (after its inbox
 * claim), through the outbox.
 *
 * @module
 */
import { appendOutbox, type Tx } from "../../../db/mod.ts";
import { withOutbox } from "../../../db/outbox.ts";
import {
  answerForKnown,
  attemptOutcome,
  type DeductionOutcome,
  settledState,
} from "../domain/deduction.ts";
import { PointDeductionRequestedSchema, PointEvents, pointMessages } from "../events.ts";
import { claimAndTakePoints, findBalance, lockDeduction, setDeductionState } from "../store.ts";
import { parsePayload } from "./payload.ts";

/**
 * Decides the request and publishes the answer. An order seen before (a
 * repeated request, or one a restore overtook) takes nothing: it gets the
 * first answer again, or `order_cancelled`.
 */
export async function handlePointDeductionRequested(
  tx: Tx,
  payload: unknown,
): Promise<DeductionOutcome> {
  const req = parsePayload(PointDeductionRequestedSchema, PointEvents.DeductionRequested, payload);
  let outcome: DeductionOutcome;
  let balance: number | null = null;
  // New: claim, take and record the movement in one statement, then the
  // final state and the answer in one (issue 16 item 4). Known: its answer again.
  const attempt = await claimAndTakePoints(tx, req);
  let settle = null;
  if (attempt.claimed) {
    balance = attempt.balance;
    outcome = attemptOutcome(req, balance !== null, attempt.userKnown);
    const { state, reason } = settledState(outcome);
    settle = setDeductionState(tx, req.orderId, state, reason);
  } else {
    const known = await lockDeduction(tx, req.orderId);
    if (known === null) throw new Error(`deduction of order ${req.orderId} vanished`);
    outcome = answerForKnown(known);
    if (outcome.deducted) balance = (await findBalance(tx, outcome.userId))?.balance ?? 0;
  }
  const reply = outcome.deducted
    ? pointMessages.deducted({
      orderId: req.orderId,
      userId: outcome.userId,
      amount: outcome.amount,
      balance: balance ?? 0,
    })
    : pointMessages.deductionFailed({
      orderId: req.orderId,
      userId: outcome.userId,
      reason: outcome.reason,
    });
  await (settle ? withOutbox(tx, settle, [reply]) : appendOutbox(tx, reply));
  return outcome;
}
