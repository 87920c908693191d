-- The point service's state (services/point/): a balance per user, every
-- movement of it, and one row per order it was asked to deduct for.

-- A user is known to the point service once points were granted to them.
create table points.balances (
  user_id text primary key check (user_id <> ''),
  balance bigint not null check (balance >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Every change of a balance, so that a balance can be explained (and checked:
-- it equals the sum of its movements).
create table points.movements (
  id bigserial primary key,
  user_id text not null references points.balances (user_id),
  delta bigint not null check (delta <> 0),
  kind text not null check (kind in ('GRANT', 'DEDUCT', 'RESTORE')),
  order_id text,
  created_at timestamptz not null default now(),
  check ((kind = 'GRANT') = (order_id is null))
);
create index movements_user_idx on points.movements (user_id, id);

-- One row per order, created by whichever command comes first: a
-- PointDeductionRequested (PENDING, then DEDUCTED or FAILED in the same
-- transaction) or a PointRestoreRequested that overtook it (CANCELLED: the
-- tombstone that makes the late deduction be refused).
--   DEDUCTED → RESTORED; FAILED, RESTORED, CANCELLED are final.
create table points.deductions (
  order_id text primary key check (order_id <> ''),
  user_id text not null check (user_id <> ''),
  amount bigint not null check (amount > 0),
  state text not null check (state in ('PENDING', 'DEDUCTED', 'FAILED', 'RESTORED', 'CANCELLED')),
  reason text check (reason in ('insufficient_points', 'unknown_user', 'order_cancelled')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check ((state = 'FAILED') = (reason is not null))
);
