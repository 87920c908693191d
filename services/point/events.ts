/**
 * The point service's contract. Topic `point-events`, keyed by user id
 * (SPEC §3.2): one user's balance is changed by one partition's consumer, in
 * order. Compensation requests on `compensation-events`, keyed by order id;
 * every reply (PointsRestored included) on `point-events`, keyed by user id,
 * where the order service reads it.
 *
 * | event                   | topic               | key      | from → to      |
 * |-------------------------|---------------------|----------|----------------|
 * | PointDeductionRequested | point-events        | user id  | order → point  |
 * | PointsDeducted          | point-events        | user id  | point → order  |
 * | PointDeductionFailed    | point-events        | user id  | point → order  |
 * | PointRestoreRequested   | compensation-events | order id | order → point  |
 * | PointsRestored          | point-events        | user id  | point → order  |
 *
 * Every payload has a zod schema (`…Schema`) that consumers parse with, and
 * `pointMessages` builds the outbox event (type, topic, key, aggregate) for
 * each.
 *
 * @module
 */
import { z } from "zod";
import type { OutboxEvent } from "../../db/mod.ts";

export const POINT_TOPIC = "point-events";
export const COMPENSATION_TOPIC = "compensation-events";

/** Order → point: take `amount` points from the user for the order. */
export interface PointDeductionRequested {
  orderId: string;
  userId: string;
  amount: number;
}

export interface PointsDeducted {
  orderId: string;
  userId: string;
  amount: number;
  /** The user's balance after the deduction (for a repeated request: the current balance). */
  balance: number;
}

export interface PointDeductionFailed {
  orderId: string;
  userId: string;
  reason: "insufficient_points" | "unknown_user" | "order_cancelled";
}

/** Order → point (compensation): give the points back. */
export interface PointRestoreRequested {
  orderId: string;
  userId: string;
  amount: number;
}

export interface PointsRestored {
  orderId: string;
  userId: string;
  /** False when nothing had been taken (refused, or the restore overtook its deduction). */
  wasDeducted: boolean;
}

export const PointEvents = {
  DeductionRequested: "PointDeductionRequested",
  Deducted: "PointsDeducted",
  DeductionFailed: "PointDeductionFailed",
  RestoreRequested: "PointRestoreRequested",
  Restored: "PointsRestored",
} as const;

const id = z.string().min(1).max(200);
const amount = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const PointDeductionRequestedSchema: z.ZodType<PointDeductionRequested> = z.object({
  orderId: id,
  userId: id,
  amount,
});

export const PointsDeductedSchema: z.ZodType<PointsDeducted> = z.object({
  orderId: id,
  userId: id,
  amount,
  balance: z.number().int().min(0),
});

export const PointDeductionFailedSchema: z.ZodType<PointDeductionFailed> = z.object({
  orderId: id,
  userId: id,
  reason: z.enum(["insufficient_points", "unknown_user", "order_cancelled"]),
});

export const PointRestoreRequestedSchema: z.ZodType<PointRestoreRequested> = z.object({
  orderId: id,
  userId: id,
  amount,
});

export const PointsRestoredSchema: z.ZodType<PointsRestored> = z.object({
  orderId: id,
  userId: id,
  wasDeducted: z.boolean(),
});

function onPointTopic(eventType: string, p: { userId: string }): OutboxEvent {
  return {
    aggregateType: "point",
    aggregateId: p.userId,
    eventType,
    topic: POINT_TOPIC,
    key: p.userId,
    payload: p,
  };
}

/**
 * The outbox event of each message, for `appendOutbox(tx, …)`.
 *
 * @example
 * ```ts
 * import { pointMessages } from "./events.ts";
 *
 * const e = pointMessages.restored({ orderId: "o-1", userId: "u-1", wasDeducted: true });
 * console.assert(e.topic === "point-events" && e.key === "u-1");
 * ```
 */
export const pointMessages = {
  deductionRequested: (p: PointDeductionRequested): OutboxEvent =>
    onPointTopic(PointEvents.DeductionRequested, p),
  deducted: (p: PointsDeducted): OutboxEvent => onPointTopic(PointEvents.Deducted, p),
  deductionFailed: (p: PointDeductionFailed): OutboxEvent =>
    onPointTopic(PointEvents.DeductionFailed, p),
  restoreRequested: (p: PointRestoreRequested): OutboxEvent => ({
    aggregateType: "point",
    aggregateId: p.userId,
    eventType: PointEvents.RestoreRequested,
    topic: COMPENSATION_TOPIC,
    key: p.orderId,
    payload: p,
  }),
  restored: (p: PointsRestored): OutboxEvent => onPointTopic(PointEvents.Restored, p),
} as const;
