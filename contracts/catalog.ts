/**
 * Every event type of the suite in one table: its payload schema (from the
 * publishing service's events.ts), its topic, the payload field that is its
 * Kafka key, and who publishes it. The outbox refuses an event that breaks
 * its entry (contracts/event_contract.ts), and the AsyncAPI document and
 * docs/events.md are generated from it (contracts/asyncapi.ts), so the
 * documents, the producers and the consumers' zod schemas cannot disagree.
 *
 * Only events.ts files are imported here (they import nothing at run time
 * but zod): db/outbox.ts reads this table, and the handlers that say who
 * consumes what import db/ (contracts/consumers.ts).
 *
 * @module
 */
import type { z } from "zod";
import {
  COMPENSATION_TOPIC,
  COUPON_TOPIC,
  CouponEvents,
  CouponIssuedSchema,
  CouponRestoredSchema,
  CouponRestoreRequestedSchema,
  CouponUsageFailedSchema,
  CouponUsageRequestedSchema,
  CouponUsedSchema,
} from "../services/coupon/events.ts";
import {
  STOCK_TOPIC,
  StockDeductedSchema,
  StockDeductionFailedSchema,
  StockDeductionRequestedSchema,
  StockEvents,
  StockRestoredSchema,
  StockRestoreRequestedSchema,
} from "../services/inventory/events.ts";
import {
  ORDER_TOPIC,
  OrderCancelledSchema,
  OrderCompletedSchema,
  OrderEvents,
  OrderPlacedSchema,
} from "../services/order/events.ts";
import {
  POINT_TOPIC,
  PointDeductionFailedSchema,
  PointDeductionRequestedSchema,
  PointEvents,
  PointRestoreRequestedSchema,
  PointsDeductedSchema,
  PointsRestoredSchema,
} from "../services/point/events.ts";

/** The services that publish or consume events. */
export type ServiceName = "order" | "inventory" | "coupon" | "point" | "deadletter";

/** One event type's contract. */
export interface EventContract {
  /** The `type` of the envelope and the `event-type` header. */
  type: string;
  /** The topic it is published on. */
  topic: string;
  /** The payload field whose value is the Kafka record key. */
  keyField: string;
  /** The payload's schema, as consumers parse it. */
  schema: z.ZodType;
  /** The service that writes it to its outbox. */
  publisher: ServiceName;
  /** One sentence: what it means. */
  summary: string;
}

const e = (
  type: string,
  topic: string,
  keyField: string,
  schema: z.ZodType,
  publisher: ServiceName,
  summary: string,
): EventContract => ({ type, topic, keyField, schema, publisher, summary });

/** Every event type the suite publishes, grouped by topic. */
export const EVENT_CONTRACTS: readonly EventContract[] = [
  e(
    OrderEvents.Placed,
    ORDER_TOPIC,
    "userId",
    OrderPlacedSchema,
    "order",
    "An order was accepted (PENDING) and its saga started.",
  ),
  e(
    OrderEvents.Completed,
    ORDER_TOPIC,
    "userId",
    OrderCompletedSchema,
    "order",
    "Every step of the order's saga succeeded.",
  ),
  e(
    OrderEvents.Cancelled,
    ORDER_TOPIC,
    "userId",
    OrderCancelledSchema,
    "order",
    "A step failed or the deadline passed; what had succeeded was undone.",
  ),
  e(
    StockEvents.DeductionRequested,
    STOCK_TOPIC,
    "productId",
    StockDeductionRequestedSchema,
    "order",
    "Take an order line's quantity of a product.",
  ),
  e(
    StockEvents.Deducted,
    STOCK_TOPIC,
    "productId",
    StockDeductedSchema,
    "inventory",
    "The line's stock was taken.",
  ),
  e(
    StockEvents.DeductionFailed,
    STOCK_TOPIC,
    "productId",
    StockDeductionFailedSchema,
    "inventory",
    "The line's stock was not taken, and why.",
  ),
  e(
    StockEvents.Restored,
    STOCK_TOPIC,
    "productId",
    StockRestoredSchema,
    "inventory",
    "The line's stock is back (or was never taken).",
  ),
  e(
    CouponEvents.UsageRequested,
    COUPON_TOPIC,
    "couponId",
    CouponUsageRequestedSchema,
    "order",
    "Use the user's coupon for the order.",
  ),
  e(
    CouponEvents.Used,
    COUPON_TOPIC,
    "couponId",
    CouponUsedSchema,
    "coupon",
    "The coupon is used by the order; `discount` is what it is worth.",
  ),
  e(
    CouponEvents.UsageFailed,
    COUPON_TOPIC,
    "couponId",
    CouponUsageFailedSchema,
    "coupon",
    "The coupon was not used, and why.",
  ),
  e(
    CouponEvents.Restored,
    COUPON_TOPIC,
    "couponId",
    CouponRestoredSchema,
    "coupon",
    "The coupon is usable again.",
  ),
  e(
    CouponEvents.Issued,
    COUPON_TOPIC,
    "couponId",
    CouponIssuedSchema,
    "coupon",
    "A campaign's coupon is stored for the user (first come, first served).",
  ),
  e(
    PointEvents.DeductionRequested,
    POINT_TOPIC,
    "userId",
    PointDeductionRequestedSchema,
    "order",
    "Take points from the user for the order.",
  ),
  e(
    PointEvents.Deducted,
    POINT_TOPIC,
    "userId",
    PointsDeductedSchema,
    "point",
    "The points were taken; `balance` is what is left.",
  ),
  e(
    PointEvents.DeductionFailed,
    POINT_TOPIC,
    "userId",
    PointDeductionFailedSchema,
    "point",
    "The points were not taken, and why.",
  ),
  e(
    PointEvents.Restored,
    POINT_TOPIC,
    "userId",
    PointsRestoredSchema,
    "point",
    "The points are back (or were never taken).",
  ),
  e(
    StockEvents.RestoreRequested,
    COMPENSATION_TOPIC,
    "orderId",
    StockRestoreRequestedSchema,
    "order",
    "Compensation: give an order line's stock back.",
  ),
  e(
    CouponEvents.RestoreRequested,
    COMPENSATION_TOPIC,
    "orderId",
    CouponRestoreRequestedSchema,
    "order",
    "Compensation: make the order's coupon usable again.",
  ),
  e(
    PointEvents.RestoreRequested,
    COMPENSATION_TOPIC,
    "orderId",
    PointRestoreRequestedSchema,
    "order",
    "Compensation: give the order's points back.",
  ),
];

const BY_TYPE: ReadonlyMap<string, EventContract> = new Map(
  EVENT_CONTRACTS.map((c) => [c.type, c]),
);

/** The contract of `type`, or undefined for a type the suite does not publish. */
export function contractOf(type: string): EventContract | undefined {
  return BY_TYPE.get(type);
}
