-- The order service's state: orders with their saga (SPEC §4; issue #5).
-- The saga's state (its steps) is kept on the order row as JSON and changed
-- only under the row's lock, in the same transaction as the outbox events it
-- causes; any instance can pick up any saga after a crash.

create table orders.orders (
  id uuid primary key,
  user_id text not null,
  status text not null check (status in ('PENDING', 'COMPENSATING', 'COMPLETED', 'CANCELLED')),
  mode text not null check (mode in ('parallel', 'sequential')),
  items jsonb not null check (jsonb_typeof(items) = 'array'),
  coupon_id text,
  points integer not null default 0 check (points >= 0),
  saga jsonb not null,
  reason text,
  idempotency_key text,
  deadline_at timestamptz not null,
  created_at timestamptz not null default clock_timestamp(),
  updated_at timestamptz not null default clock_timestamp(),
  finished_at timestamptz,
  unique (user_id, idempotency_key)
);
create index orders_by_user on orders.orders (user_id, created_at desc);
create index orders_waiting on orders.orders (deadline_at) where status in ('PENDING', 'COMPENSATING');

-- What happened to each order, in order: the saga's story for people.
create table orders.order_history (
  id bigserial primary key,
  order_id uuid not null references orders.orders (id),
  at timestamptz not null default clock_timestamp(),
  note text not null,
  detail jsonb
);
create index order_history_by_order on orders.order_history (order_id, id);

-- Run-time settings an admin can change (the parallel rollout switch, §4.3.5).
create table orders.settings (
  key text primary key,
  value jsonb not null,
  updated_at timestamptz not null default now()
);
insert into orders.settings (key, value) values
  ('mode', '{"strategy": "hybrid", "parallelEnabled": true, "parallelPercentage": 100}');

grant select, insert, update, delete on orders.orders, orders.order_history, orders.settings to order_service;
grant usage on sequence orders.order_history_id_seq to order_service;
