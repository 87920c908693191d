/**
 * The order service's contract: what it publishes on `order-events`, keyed
 * by user id (SPEC §3.2, §4.4: one user's orders stay in order). Its saga
 * commands go to the participants' topics (their events.ts).
 *
 * @module
 */

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
