-- First-come-first-served coupon campaigns (SPEC §5, §12.2; issue #6).
-- Redis decides each request (services/coupon/issuance/); Postgres is the
-- source of truth: a grant becomes a coupon row here, and the database itself
-- refuses a second coupon of a campaign for one user and any coupon beyond
-- the campaign's total, whatever Redis says (e.g. after it lost its data).

create table coupons.campaigns (
  id text primary key check (id <> ''),
  name text not null check (name <> ''),
  -- How many coupons the campaign gives out, and how many are stored so far:
  -- every grant transaction adds to `issued`, so the check refuses over-issue.
  total integer not null check (total > 0),
  issued integer not null default 0 check (issued >= 0),
  -- What each coupon takes off an order, in the currency's smallest unit.
  discount bigint not null check (discount > 0),
  -- The issue window [starts_at, ends_at).
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  -- When the coupons it gives out expire (null: never).
  coupon_expires_at timestamptz,
  created_at timestamptz not null default now(),
  check (ends_at > starts_at),
  check (issued <= total)
);

-- A campaign's coupons are ordinary coupons (usable in orders), tagged with
-- the campaign; one per user and campaign (NULLs, i.e. coupons granted by an
-- admin, are distinct and unaffected).
alter table coupons.coupons add column campaign_id text references coupons.campaigns (id);
alter table coupons.coupons
  add constraint coupons_one_per_campaign_user unique (campaign_id, user_id);
