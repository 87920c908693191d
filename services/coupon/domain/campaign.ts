/**
 * First-come-first-served campaigns (SPEC §5), without I/O: what a campaign
 * is, whether its issue window is open, and the decisions an issue request
 * is answered with (SPEC §5.2.1: refuse a user who has the coupon already,
 * refuse at the maximum, otherwise issue).
 *
 * @module
 */

/** A campaign as stored (coupons.campaigns). */
export interface Campaign {
  id: string;
  name: string;
  /** How many coupons it gives out. */
  total: number;
  /** How many are stored in the database so far. */
  issued: number;
  /** What each coupon takes off an order. */
  discount: number;
  /** The issue window [startsAt, endsAt). */
  startsAt: Date;
  endsAt: Date;
  /** When its coupons expire (null: never). */
  couponExpiresAt: Date | null;
  createdAt: Date;
  /** When its last coupon was stored (null while any is left). */
  soldOutAt: Date | null;
}

/** The answer to one issue request. */
export type IssueDecision =
  | { result: "issued"; couponId: string }
  | { result: "already_issued" }
  | { result: "sold_out" }
  | { result: "not_started"; startsAt: Date }
  | { result: "ended" }
  | { result: "unknown_campaign" };

export type IssueResult = IssueDecision["result"];

/** Where `now` is relative to the campaign's window. */
export function windowState(
  c: Pick<Campaign, "startsAt" | "endsAt">,
  now: Date,
): "open" | "not_started" | "ended" {
  if (now.getTime() < c.startsAt.getTime()) return "not_started";
  if (now.getTime() >= c.endsAt.getTime()) return "ended";
  return "open";
}

/**
 * What happened to one grant when the database was asked to store it
 * (SPEC §5.2.2): stored; stored already (a redelivery); refused because the
 * user holds another coupon of the campaign; refused because the campaign's
 * total is reached (Redis had over-counted, e.g. after losing its data).
 */
export type GrantOutcome =
  | { kind: "stored" }
  | { kind: "already_stored" }
  | { kind: "duplicate"; heldCouponId: string }
  | { kind: "sold_out" };
