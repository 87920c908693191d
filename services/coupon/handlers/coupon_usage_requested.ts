/**
 * CouponUsageRequested (order → coupon, `coupon-events`): use the user's
 * coupon for the order, and answer CouponUsed or CouponUsageFailed, in the
 * consumer's transaction (after its inbox claim), through the outbox.
 *
 * @module
 */
import { appendOutbox, type Tx } from "../../../db/mod.ts";
import { withOutbox } from "../../../db/outbox.ts";
import { answerForKnownUsage, decideUsage, type UsageOutcome } from "../domain/usage.ts";
import { CouponEvents, couponMessages, CouponUsageRequestedSchema } from "../events.ts";
import { claimUsageAndLockCoupon, lockUsage, markUsed, setUsage } from "../store.ts";
import { parsePayload } from "./payload.ts";

/**
 * Decides the request and publishes the answer. An (order, coupon) seen
 * before (a repeated request, or one a restore overtook) changes nothing: it
 * gets the first answer again, or `order_cancelled`. `now` decides expiry.
 */
export async function handleCouponUsageRequested(
  tx: Tx,
  payload: unknown,
  now: Date = new Date(),
): Promise<UsageOutcome> {
  const req = parsePayload(CouponUsageRequestedSchema, CouponEvents.UsageRequested, payload);
  let outcome: UsageOutcome;
  // New: claim and lock the coupon in one statement, then — after the
  // guarded use — the final state and the answer in one (issue 16 item 4).
  // Known: its answer again.
  const attempt = await claimUsageAndLockCoupon(tx, req);
  let settle = null;
  if (attempt.claimed) {
    outcome = decideUsage(attempt.coupon, req.userId, now);
    if (outcome.used) {
      // The guard: only an AVAILABLE coupon becomes USED (and the unique
      // index on usages allows one USED usage per coupon).
      const discount = await markUsed(tx, req.couponId, req.orderId);
      outcome = discount === null
        ? { used: false, reason: "already_used" }
        : { used: true, discount };
    }
    settle = setUsage(
      tx,
      req.orderId,
      req.couponId,
      outcome.used
        ? { state: "USED", discount: outcome.discount }
        : { state: "FAILED", reason: outcome.reason },
    );
  } else {
    const known = await lockUsage(tx, req.orderId, req.couponId);
    if (known === null) throw new Error(`usage ${req.orderId}/${req.couponId} vanished`);
    outcome = answerForKnownUsage(known);
  }
  const reply = outcome.used
    ? couponMessages.used({
      orderId: req.orderId,
      couponId: req.couponId,
      discount: outcome.discount,
    })
    : couponMessages.usageFailed({
      orderId: req.orderId,
      couponId: req.couponId,
      reason: outcome.reason,
    });
  await (settle ? withOutbox(tx, settle, [reply]) : appendOutbox(tx, reply));
  return outcome;
}
