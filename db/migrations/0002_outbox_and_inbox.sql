-- Every service schema gets the same two tables (SPEC design card):
--   outbox: events written in the same transaction as the state change they
--           announce (db/outbox.ts appendOutbox), read by the relay from the WAL;
--   inbox:  one row per message a consumer has handled (db/inbox.ts claimInbox).
-- created_at uses clock_timestamp(), not the transaction's start time, so
-- events of one transaction keep the order they were written in.
-- REPLICA IDENTITY stays DEFAULT: the publication carries inserts only.

create table orders.outbox (
  event_id uuid primary key,
  aggregate_type text not null,
  aggregate_id text not null,
  event_type text not null,
  topic text not null,
  key text not null,
  payload jsonb not null check (jsonb_typeof(payload) = 'object'),
  headers jsonb not null default '{}' check (jsonb_typeof(headers) = 'object'),
  created_at timestamptz not null default clock_timestamp()
);
create index outbox_created_at_idx on orders.outbox (created_at);
create index outbox_aggregate_idx on orders.outbox (aggregate_type, aggregate_id);
create table orders.inbox (
  consumer text not null,
  message_id text not null,
  processed_at timestamptz not null default now(),
  primary key (consumer, message_id)
);
create index inbox_processed_at_idx on orders.inbox (processed_at);

create table inventory.outbox (
  event_id uuid primary key,
  aggregate_type text not null,
  aggregate_id text not null,
  event_type text not null,
  topic text not null,
  key text not null,
  payload jsonb not null check (jsonb_typeof(payload) = 'object'),
  headers jsonb not null default '{}' check (jsonb_typeof(headers) = 'object'),
  created_at timestamptz not null default clock_timestamp()
);
create index outbox_created_at_idx on inventory.outbox (created_at);
create index outbox_aggregate_idx on inventory.outbox (aggregate_type, aggregate_id);
create table inventory.inbox (
  consumer text not null,
  message_id text not null,
  processed_at timestamptz not null default now(),
  primary key (consumer, message_id)
);
create index inbox_processed_at_idx on inventory.inbox (processed_at);

create table coupons.outbox (
  event_id uuid primary key,
  aggregate_type text not null,
  aggregate_id text not null,
  event_type text not null,
  topic text not null,
  key text not null,
  payload jsonb not null check (jsonb_typeof(payload) = 'object'),
  headers jsonb not null default '{}' check (jsonb_typeof(headers) = 'object'),
  created_at timestamptz not null default clock_timestamp()
);
create index outbox_created_at_idx on coupons.outbox (created_at);
create index outbox_aggregate_idx on coupons.outbox (aggregate_type, aggregate_id);
create table coupons.inbox (
  consumer text not null,
  message_id text not null,
  processed_at timestamptz not null default now(),
  primary key (consumer, message_id)
);
create index inbox_processed_at_idx on coupons.inbox (processed_at);

create table points.outbox (
  event_id uuid primary key,
  aggregate_type text not null,
  aggregate_id text not null,
  event_type text not null,
  topic text not null,
  key text not null,
  payload jsonb not null check (jsonb_typeof(payload) = 'object'),
  headers jsonb not null default '{}' check (jsonb_typeof(headers) = 'object'),
  created_at timestamptz not null default clock_timestamp()
);
create index outbox_created_at_idx on points.outbox (created_at);
create index outbox_aggregate_idx on points.outbox (aggregate_type, aggregate_id);
create table points.inbox (
  consumer text not null,
  message_id text not null,
  processed_at timestamptz not null default now(),
  primary key (consumer, message_id)
);
create index inbox_processed_at_idx on points.inbox (processed_at);
