/**
 * The point service's contract. Topic `point-events`, keyed by user id
 * (SPEC §3.2): one user's balance is changed by one partition's consumer, in
 * order. Compensation on `compensation-events`, keyed by order id.
 *
 * @module
 */

export const POINT_TOPIC = "point-events";

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
  wasDeducted: boolean;
}

export const PointEvents = {
  DeductionRequested: "PointDeductionRequested",
  Deducted: "PointsDeducted",
  DeductionFailed: "PointDeductionFailed",
  RestoreRequested: "PointRestoreRequested",
  Restored: "PointsRestored",
} as const;
