/**
 * What the coupon service's consumer handles: its command topic and the
 * compensation topic, one handler per event type (other types on those
 * topics are skipped by the loop).
 *
 * @module
 */
import type { EventHandlers } from "../../../kit/mod.ts";
import { COMPENSATION_TOPIC, COUPON_TOPIC, CouponEvents } from "../events.ts";
import { handleCouponRestoreRequested } from "./coupon_restore_requested.ts";
import { handleCouponUsageRequested } from "./coupon_usage_requested.ts";

export { handleCouponRestoreRequested, handleCouponUsageRequested };
export { InvalidPayloadError } from "./payload.ts";

/** The topics the consumer reads. */
export const TOPICS: readonly string[] = [COUPON_TOPIC, COMPENSATION_TOPIC];

/** Handlers by event type, for `startConsumer({ handlers })`. */
export const handlers: EventHandlers = {
  [CouponEvents.UsageRequested]: async (tx, event) => {
    await handleCouponUsageRequested(tx, event.payload);
  },
  [CouponEvents.RestoreRequested]: async (tx, event) => {
    await handleCouponRestoreRequested(tx, event.payload);
  },
};
