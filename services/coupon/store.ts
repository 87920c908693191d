/**
 * The coupon service's SQL (schema `coupons`, reached through the
 * `coupon_service` role's search_path).
 *
 * @module
 */
import type { Sql, Tx } from "../../db/mod.ts";
import type { Coupon, CouponStatus, Usage, UsageFailure, UsageState } from "./domain/usage.ts";

type Db = Sql | Tx;

/** A coupon with its bookkeeping, as the HTTP API shows it. */
export interface StoredCoupon extends Coupon {
  usedAt: Date | null;
  createdAt: Date;
}

interface CouponRow {
  id: string;
  user_id: string;
  discount: string; // bigint arrives as a string
  status: CouponStatus;
  used_by_order: string | null;
  used_at: Date | null;
  expires_at: Date | null;
  created_at: Date;
}

function toCoupon(r: CouponRow): StoredCoupon {
  return {
    id: r.id,
    userId: r.user_id,
    discount: Number(r.discount),
    status: r.status,
    usedByOrder: r.used_by_order,
    usedAt: r.used_at,
    expiresAt: r.expires_at,
    createdAt: r.created_at,
  };
}

/** Grants a coupon to a user; null when one with this id exists already. */
export async function insertCoupon(
  db: Db,
  c: { id: string; userId: string; discount: number; expiresAt: Date | null },
): Promise<StoredCoupon | null> {
  const rows = await db<CouponRow[]>`
    insert into coupons (id, user_id, discount, expires_at)
    values (${c.id}, ${c.userId}, ${c.discount}, ${c.expiresAt})
    on conflict (id) do nothing
    returning *`;
  return rows.length === 1 ? toCoupon(rows[0]) : null;
}

/** The user's coupons, newest first. */
export async function couponsOf(db: Db, userId: string, limit: number): Promise<StoredCoupon[]> {
  const rows = await db<CouponRow[]>`
    select * from coupons where user_id = ${userId}
    order by created_at desc, id limit ${limit}`;
  return rows.map(toCoupon);
}

export async function findCoupon(db: Db, id: string): Promise<StoredCoupon | null> {
  const rows = await db<CouponRow[]>`select * from coupons where id = ${id}`;
  return rows.length === 1 ? toCoupon(rows[0]) : null;
}

/**
 * Marks the coupon USED by the order, only if it is AVAILABLE (the guard
 * against a second use): its discount, or null when it was not available.
 */
export async function markUsed(tx: Tx, couponId: string, orderId: string): Promise<number | null> {
  const rows = await tx<{ discount: string }[]>`
    update coupons set status = 'USED', used_by_order = ${orderId}, used_at = now()
    where id = ${couponId} and status = 'AVAILABLE'
    returning discount`;
  return rows.length === 1 ? Number(rows[0].discount) : null;
}

/** Makes the coupon AVAILABLE again if (and only if) this order holds it; true when it did. */
export async function release(tx: Tx, couponId: string, orderId: string): Promise<boolean> {
  const rows = await tx`
    update coupons set status = 'AVAILABLE', used_by_order = null, used_at = null
    where id = ${couponId} and used_by_order = ${orderId}
    returning id`;
  return rows.length === 1;
}

/**
 * Records the (order, coupon) usage in `state` unless it is known already:
 * true when this call created it. The primary key serialises a usage and a
 * restore of the same pair: the second waits for the first to commit.
 */
export async function claimUsage(
  tx: Tx,
  u: { orderId: string; couponId: string; userId: string | null },
  state: "PENDING" | "CANCELLED",
): Promise<boolean> {
  const rows = await tx`
    insert into usages (order_id, coupon_id, user_id, state)
    values (${u.orderId}, ${u.couponId}, ${u.userId}, ${state})
    on conflict (order_id, coupon_id) do nothing
    returning order_id`;
  return rows.length === 1;
}

/**
 * {@link claimUsage} as PENDING and, only when that recorded the usage,
 * reads the coupon locked until the transaction ends, in ONE statement (issue 16 item 4): a usage request's
 * first round trip. `coupon` is null when the coupon is unknown or the usage
 * was known already (then nothing is locked).
 */
export async function claimUsageAndLockCoupon(
  tx: Tx,
  u: { orderId: string; couponId: string; userId: string | null },
): Promise<{ claimed: boolean; coupon: StoredCoupon | null }> {
  const [r] = await tx<(Omit<CouponRow, "id"> & { id: string | null; claimed: boolean })[]>`
    with claim as (
      insert into usages (order_id, coupon_id, user_id, state)
      values (${u.orderId}, ${u.couponId}, ${u.userId}, 'PENDING')
      on conflict (order_id, coupon_id) do nothing
      returning order_id
    )
    select c.*, exists (select from claim) as claimed
    from (select) as one
    left join lateral (
      select * from coupons where id = ${u.couponId} and exists (select from claim) for update
    ) c on true`;
  return { claimed: r.claimed, coupon: r.id === null ? null : toCoupon(r as CouponRow) };
}

interface UsageRow {
  order_id: string;
  coupon_id: string;
  state: UsageState;
  reason: UsageFailure | null;
  discount: string | null;
}

function toUsage(r: UsageRow): Usage {
  return {
    orderId: r.order_id,
    couponId: r.coupon_id,
    state: r.state,
    reason: r.reason,
    discount: r.discount === null ? null : Number(r.discount),
  };
}

/** The usage, locked until the transaction ends; null when unknown. */
export async function lockUsage(tx: Tx, orderId: string, couponId: string): Promise<Usage | null> {
  const rows = await tx<UsageRow[]>`
    select order_id, coupon_id, state, reason, discount from usages
    where order_id = ${orderId} and coupon_id = ${couponId}
    for update`;
  return rows.length === 1 ? toUsage(rows[0]) : null;
}

export async function findUsage(db: Db, orderId: string, couponId: string): Promise<Usage | null> {
  const rows = await db<UsageRow[]>`
    select order_id, coupon_id, state, reason, discount from usages
    where order_id = ${orderId} and coupon_id = ${couponId}`;
  return rows.length === 1 ? toUsage(rows[0]) : null;
}

/**
 * Sets the usage's state: awaited, a statement of its own; not awaited, a
 * fragment to run with the reply (db/outbox.ts withOutbox), in one statement.
 */
export function setUsage(
  tx: Tx,
  orderId: string,
  couponId: string,
  change: { state: UsageState; reason?: UsageFailure | null; discount?: number | null },
) {
  return tx`
    update usages
    set state = ${change.state},
        reason = ${change.reason ?? null},
        discount = coalesce(${change.discount ?? null}::bigint, discount),
        updated_at = now()
    where order_id = ${orderId} and coupon_id = ${couponId}`;
}
