/**
 * The coupon service's contract for the order saga (the first-come-first-
 * served issuance events are added by the coupon issue).
 *
 * Topic `coupon-events`, keyed by coupon id (SPEC §3.2): every use of one
 * coupon is decided by one partition's consumer, in order, so a coupon is
 * used at most once without locks. Compensation on `compensation-events`,
 * keyed by order id.
 *
 * @module
 */

export const COUPON_TOPIC = "coupon-events";

/** Order → coupon: use the user's coupon for the order. */
export interface CouponUsageRequested {
  orderId: string;
  userId: string;
  couponId: string;
}

/** Coupon → order: the coupon is used by the order; `discount` is what it is worth. */
export interface CouponUsed {
  orderId: string;
  couponId: string;
  discount: number;
}

export interface CouponUsageFailed {
  orderId: string;
  couponId: string;
  reason: "unknown_coupon" | "not_owner" | "already_used" | "expired" | "order_cancelled";
}

/** Order → coupon (compensation): make the coupon usable again. */
export interface CouponRestoreRequested {
  orderId: string;
  couponId: string;
}

export interface CouponRestored {
  orderId: string;
  couponId: string;
  wasUsed: boolean;
}

export const CouponEvents = {
  UsageRequested: "CouponUsageRequested",
  Used: "CouponUsed",
  UsageFailed: "CouponUsageFailed",
  RestoreRequested: "CouponRestoreRequested",
  Restored: "CouponRestored",
} as const;
