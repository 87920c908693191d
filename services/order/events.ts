/**
 * The order service's contract: what it publishes on `order-events`, keyed
 * by user id (SPEC §3.2, §4.4: one user's orders stay in order). Its saga
 * commands go to the participants' topics (their events.ts).
 *
 * Every payload has a zod schema (`…Schema`): the outbox refuses an event
 * that does not match it (contracts/catalog.ts), and the AsyncAPI document
 * (docs/asyncapi.json) is generated from it.
 *
 * @module
 */
import { z } from "zod";

export const ORDER_TOPIC = "order-events";

export interface OrderLine {
  productId: string;
  quantity: number;
}

/** An order was accepted (status PENDING) and its saga started. */
export interface OrderPlaced {
  orderId: string;
  userId: string;
  items: OrderLine[];
  couponId: string | null;
  points: number;
  mode: "parallel" | "sequential";
}

/** Every step succeeded (SPEC §4.1 step 4). */
export interface OrderCompleted {
  orderId: string;
  userId: string;
}

/** A step failed or the deadline passed; what had succeeded was undone. */
export interface OrderCancelled {
  orderId: string;
  userId: string;
  reason: string;
}

export const OrderEvents = {
  Placed: "OrderPlaced",
  Completed: "OrderCompleted",
  Cancelled: "OrderCancelled",
} as const;

const id = z.string().min(1).max(200);

export const OrderPlacedSchema: z.ZodType<OrderPlaced> = z.object({
  orderId: id,
  userId: id,
  items: z.array(z.object({ productId: id, quantity: z.number().int().positive() })).min(1),
  couponId: id.nullable(),
  points: z.number().int().min(0),
  mode: z.enum(["parallel", "sequential"]),
});

export const OrderCompletedSchema: z.ZodType<OrderCompleted> = z.object({
  orderId: id,
  userId: id,
});

export const OrderCancelledSchema: z.ZodType<OrderCancelled> = z.object({
  orderId: id,
  userId: id,
  reason: z.string().min(1),
});
