/**
 * PointRestoreRequested (order → point, `compensation-events`): give a
 * deducted order's points back, once, and answer PointsRestored, in the
 * consumer's transaction, through the outbox. A restore that overtook its
 * deduction leaves a tombstone, so the late deduction is refused.
 *
 * @module
 */
import { appendOutbox, type Tx } from "../../../db/mod.ts";
import { type Deduction, planRestore } from "../domain/deduction.ts";
import {
  PointEvents,
  pointMessages,
  PointRestoreRequestedSchema,
  type PointsRestored,
} from "../events.ts";
import { claimDeduction, givePointsBack, lockDeduction, setDeductionState } from "../store.ts";
import { parsePayload } from "./payload.ts";

/** Restores the order's points if they were deducted and not yet restored; returns the reply. */
export async function handlePointRestoreRequested(
  tx: Tx,
  payload: unknown,
): Promise<PointsRestored> {
  const req = parsePayload(PointRestoreRequestedSchema, PointEvents.RestoreRequested, payload);
  // Never seen: claimDeduction records the tombstone. Seen: the record, locked.
  let known: Deduction | null = null;
  if (!await claimDeduction(tx, req, "CANCELLED")) {
    known = await lockDeduction(tx, req.orderId);
    if (known === null) throw new Error(`deduction of order ${req.orderId} vanished`);
  }
  const plan = planRestore(known);
  let reply: PointsRestored;
  switch (plan.kind) {
    case "tombstone":
      reply = { orderId: req.orderId, userId: req.userId, wasDeducted: false };
      break;
    case "give_back":
      await givePointsBack(tx, plan.userId, plan.amount, req.orderId);
      await setDeductionState(tx, req.orderId, "RESTORED");
      reply = { orderId: req.orderId, userId: plan.userId, wasDeducted: true };
      break;
    case "nothing":
      reply = { orderId: req.orderId, userId: plan.userId, wasDeducted: plan.wasDeducted };
      break;
  }
  await appendOutbox(tx, pointMessages.restored(reply));
  return reply;
}
