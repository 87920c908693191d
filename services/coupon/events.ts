/**
 * The coupon service's contract for the order saga, and the event of
 * first-come-first-served issuance (SPEC §5): CouponIssued, written with the
 * coupon row when a grant is stored.
 *
 * Topic `coupon-events`, keyed by coupon id (SPEC §3.2): every use of one
 * coupon is decided by one partition's consumer, in order, so a coupon is
 * used at most once without locks. Compensation requests on
 * `compensation-events`, keyed by order id; every reply (CouponRestored
 * included) on `coupon-events`, keyed by coupon id, where the order service
 * reads it.
 *
 * | event                  | topic               | key       | from → to       |
 * |------------------------|---------------------|-----------|-----------------|
 * | CouponUsageRequested   | coupon-events       | coupon id | order → coupon  |
 * | CouponUsed             | coupon-events       | coupon id | coupon → order  |
 * | CouponUsageFailed      | coupon-events       | coupon id | coupon → order  |
 * | CouponRestoreRequested | compensation-events | order id  | order → coupon  |
 * | CouponRestored         | coupon-events       | coupon id | coupon → order  |
 * | CouponIssued           | coupon-events       | coupon id | coupon → anyone |
 *
 * Every payload has a zod schema (`…Schema`) that consumers parse with, and
 * `couponMessages` builds the outbox event (type, topic, key, aggregate) for
 * each.
 *
 * @module
 */
import { z } from "zod";
import type { OutboxEvent } from "../../db/mod.ts";

export const COUPON_TOPIC = "coupon-events";
export const COMPENSATION_TOPIC = "compensation-events";

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
  /** False when this order had not used the coupon (refused, or the restore came first). */
  wasUsed: boolean;
}

/** Coupon → anyone (SPEC §5): a campaign's coupon is stored for the user. */
export interface CouponIssued {
  couponId: string;
  campaignId: string;
  userId: string;
  discount: number;
  /** ISO time; null: never expires. */
  expiresAt: string | null;
}

export const CouponEvents = {
  UsageRequested: "CouponUsageRequested",
  Used: "CouponUsed",
  UsageFailed: "CouponUsageFailed",
  RestoreRequested: "CouponRestoreRequested",
  Restored: "CouponRestored",
  Issued: "CouponIssued",
} as const;

const id = z.string().min(1).max(200);

export const CouponUsageRequestedSchema: z.ZodType<CouponUsageRequested> = z.object({
  orderId: id,
  userId: id,
  couponId: id,
});

export const CouponUsedSchema: z.ZodType<CouponUsed> = z.object({
  orderId: id,
  couponId: id,
  discount: z.number().int().positive(),
});

export const CouponUsageFailedSchema: z.ZodType<CouponUsageFailed> = z.object({
  orderId: id,
  couponId: id,
  reason: z.enum(["unknown_coupon", "not_owner", "already_used", "expired", "order_cancelled"]),
});

export const CouponRestoreRequestedSchema: z.ZodType<CouponRestoreRequested> = z.object({
  orderId: id,
  couponId: id,
});

export const CouponRestoredSchema: z.ZodType<CouponRestored> = z.object({
  orderId: id,
  couponId: id,
  wasUsed: z.boolean(),
});

export const CouponIssuedSchema: z.ZodType<CouponIssued> = z.object({
  couponId: id,
  campaignId: id,
  userId: id,
  discount: z.number().int().positive(),
  expiresAt: z.iso.datetime({ offset: true }).nullable(),
});

function onCouponTopic(eventType: string, p: { couponId: string }): OutboxEvent {
  return {
    aggregateType: "coupon",
    aggregateId: p.couponId,
    eventType,
    topic: COUPON_TOPIC,
    key: p.couponId,
    payload: p,
  };
}

/**
 * The outbox event of each message, for `appendOutbox(tx, …)`.
 *
 * @example
 * ```ts
 * import { couponMessages } from "./events.ts";
 *
 * const e = couponMessages.used({ orderId: "o-1", couponId: "c-1", discount: 3000 });
 * console.assert(e.topic === "coupon-events" && e.key === "c-1");
 * ```
 */
export const couponMessages = {
  usageRequested: (p: CouponUsageRequested): OutboxEvent =>
    onCouponTopic(CouponEvents.UsageRequested, p),
  used: (p: CouponUsed): OutboxEvent => onCouponTopic(CouponEvents.Used, p),
  usageFailed: (p: CouponUsageFailed): OutboxEvent => onCouponTopic(CouponEvents.UsageFailed, p),
  restoreRequested: (p: CouponRestoreRequested): OutboxEvent => ({
    aggregateType: "coupon",
    aggregateId: p.couponId,
    eventType: CouponEvents.RestoreRequested,
    topic: COMPENSATION_TOPIC,
    key: p.orderId,
    payload: p,
  }),
  restored: (p: CouponRestored): OutboxEvent => onCouponTopic(CouponEvents.Restored, p),
  issued: (p: CouponIssued): OutboxEvent => onCouponTopic(CouponEvents.Issued, p),
} as const;
