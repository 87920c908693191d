/**
 * The rules for using a coupon in an order, with no I/O: whether a coupon
 * may be used, what a usage request is answered, and what a restore does,
 * given what is already known. The store runs the SQL these decisions call
 * for.
 *
 * A coupon is AVAILABLE or USED (by exactly one order). One usage record
 * per (order, coupon):
 *
 * ```
 *  usage first:    PENDING ─┬→ USED ──restore──→ RESTORED   (coupon AVAILABLE again)
 *                           └→ FAILED (unknown_coupon | not_owner | already_used | expired)
 *  restore first:  CANCELLED   (tombstone: the late usage is refused)
 * ```
 *
 * @module
 */
import { reservationRules, type ReservationState } from "../../../kit/reservation.ts";
import type { CouponUsageFailed } from "../events.ts";

export type CouponStatus = "AVAILABLE" | "USED";

/** A coupon as the rules see it. */
export interface Coupon {
  id: string;
  userId: string;
  discount: number;
  status: CouponStatus;
  usedByOrder: string | null;
  /** Null: never expires. */
  expiresAt: Date | null;
}

/** Why a usage was refused. */
export type UsageFailure = CouponUsageFailed["reason"];

/** Where a usage is; PENDING exists only inside the transaction that decides it. */
export type UsageState = ReservationState<"USED">;

/** What the service knows about one order's use of one coupon. */
export interface Usage {
  orderId: string;
  couponId: string;
  state: UsageState;
  reason: UsageFailure | null;
  /** What the coupon was worth when it was used (USED and RESTORED). */
  discount: number | null;
}

/** The answer to a usage request. */
export type UsageOutcome =
  | { used: true; discount: number }
  | { used: false; reason: UsageFailure };

/** Thrown for a state the rules never leave a record in. */
export class UsageStateError extends Error {
  override name = "UsageStateError";
}

const rules = reservationRules({ taken: "USED", noun: "usage", stateError: UsageStateError });

/** True when the coupon has expired at `now` (a coupon without expiry never does). */
export function isExpired(coupon: Pick<Coupon, "expiresAt">, now: Date): boolean {
  return coupon.expiresAt !== null && coupon.expiresAt.getTime() <= now.getTime();
}

/**
 * Whether `userId` may use `coupon` now; the checks run in this order:
 * unknown coupon, someone else's, used already, expired.
 */
export function decideUsage(coupon: Coupon | null, userId: string, now: Date): UsageOutcome {
  if (coupon === null) return { used: false, reason: "unknown_coupon" };
  if (coupon.userId !== userId) return { used: false, reason: "not_owner" };
  if (coupon.status === "USED") return { used: false, reason: "already_used" };
  if (isExpired(coupon, now)) return { used: false, reason: "expired" };
  return { used: true, discount: coupon.discount };
}

/**
 * The answer to a usage request for an (order, coupon) already known: the
 * first answer again for a repeated request; `order_cancelled` when a
 * restore came first or already undid it. Nothing changes either way.
 */
export function answerForKnownUsage(u: Usage): UsageOutcome {
  const answer = rules.answerForKnown(u);
  if (!answer.taken) return { used: false, reason: answer.reason };
  if (u.discount === null) throw new UsageStateError("a USED usage without a discount");
  return { used: true, discount: u.discount };
}

/** What a restore request does. */
export type RestorePlan =
  /** The (order, coupon) was never seen: record a CANCELLED tombstone. */
  | { kind: "tombstone" }
  /** This order used the coupon: make it AVAILABLE again, mark the usage RESTORED. */
  | { kind: "release" }
  /** Nothing to do (refused, already restored, or already a tombstone). */
  | { kind: "nothing"; wasUsed: boolean };

/** Only the order that used the coupon gets it back, once; a second restore changes nothing. */
export function planRestore(u: Usage | null): RestorePlan {
  const step = rules.planRestore(u);
  switch (step.kind) {
    case "tombstone":
      return { kind: "tombstone" };
    case "give_back":
      return { kind: "release" };
    case "nothing":
      return { kind: "nothing", wasUsed: step.wasTaken };
  }
}
