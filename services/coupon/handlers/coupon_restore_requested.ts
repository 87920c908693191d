/**
 * CouponRestoreRequested (order → coupon, `compensation-events`): make the
 * coupon AVAILABLE again if this order used it, once, and answer
 * CouponRestored, in the consumer's transaction, through the outbox. A
 * restore that overtook its usage leaves a tombstone, so the late usage is
 * refused.
 *
 * @module
 */
import { appendOutbox, type Tx } from "../../../db/mod.ts";
import { planRestore, type Usage } from "../domain/usage.ts";
import {
  CouponEvents,
  couponMessages,
  type CouponRestored,
  CouponRestoreRequestedSchema,
} from "../events.ts";
import { claimUsage, lockUsage, release, setUsage } from "../store.ts";
import { parsePayload } from "./payload.ts";

/** Gives the coupon back if this order used it and has not had it back; returns the reply. */
export async function handleCouponRestoreRequested(
  tx: Tx,
  payload: unknown,
): Promise<CouponRestored> {
  const req = parsePayload(CouponRestoreRequestedSchema, CouponEvents.RestoreRequested, payload);
  // Never seen: claimUsage records the tombstone. Seen: the usage, locked.
  let known: Usage | null = null;
  if (!await claimUsage(tx, { ...req, userId: null }, "CANCELLED")) {
    known = await lockUsage(tx, req.orderId, req.couponId);
    if (known === null) throw new Error(`usage ${req.orderId}/${req.couponId} vanished`);
  }
  const plan = planRestore(known);
  let wasUsed: boolean;
  switch (plan.kind) {
    case "tombstone":
      wasUsed = false;
      break;
    case "release":
      if (!await release(tx, req.couponId, req.orderId)) {
        throw new Error(`coupon ${req.couponId} is not held by order ${req.orderId}`);
      }
      await setUsage(tx, req.orderId, req.couponId, { state: "RESTORED" });
      wasUsed = true;
      break;
    case "nothing":
      wasUsed = plan.wasUsed;
      break;
  }
  const reply = { orderId: req.orderId, couponId: req.couponId, wasUsed };
  await appendOutbox(tx, couponMessages.restored(reply));
  return reply;
}
