-- The coupon service's state for the order saga (services/coupon/): coupons
-- granted to users, and one row per (order, coupon) it was asked about.
-- First-come-first-served issuance (SPEC §5) adds its own tables later.

create table coupons.coupons (
  id text primary key check (id <> ''),
  user_id text not null check (user_id <> ''),
  -- What the coupon takes off an order, in the currency's smallest unit.
  discount bigint not null check (discount > 0),
  status text not null default 'AVAILABLE' check (status in ('AVAILABLE', 'USED')),
  used_by_order text,
  used_at timestamptz,
  -- Null: never expires.
  expires_at timestamptz,
  created_at timestamptz not null default now(),
  -- USED exactly when an order holds it.
  check ((status = 'USED') = (used_by_order is not null)),
  check ((status = 'USED') = (used_at is not null))
);
create index coupons_user_idx on coupons.coupons (user_id, created_at);

-- One row per (order, coupon), created by whichever command comes first: a
-- CouponUsageRequested (PENDING, then USED or FAILED in the same transaction)
-- or a CouponRestoreRequested that overtook it (CANCELLED: the tombstone that
-- makes the late usage be refused).
--   USED → RESTORED; FAILED, RESTORED, CANCELLED are final.
create table coupons.usages (
  order_id text not null check (order_id <> ''),
  coupon_id text not null check (coupon_id <> ''),
  user_id text,
  state text not null check (state in ('PENDING', 'USED', 'FAILED', 'RESTORED', 'CANCELLED')),
  reason text check (
    reason in ('unknown_coupon', 'not_owner', 'already_used', 'expired', 'order_cancelled')
  ),
  discount bigint,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (order_id, coupon_id),
  check ((state = 'FAILED') = (reason is not null))
);
-- A coupon is used by at most one order at a time (the second guard, besides
-- `update coupons … where status = 'AVAILABLE'`).
create unique index usages_one_use_per_coupon on coupons.usages (coupon_id) where state = 'USED';
