-- What the outbox relay (outbox-relay/) reads and writes.

-- The relay inserts a beat now and then so that its slot keeps moving on an
-- idle database; an unmoving slot pins WAL (NOTES.md).
create table relay.heartbeat (
  id bigserial primary key,
  beat_at timestamptz not null default clock_timestamp()
);

-- The relay's confirmed position per slot, and the created_at of the newest
-- event it has published (db/retention.ts never deletes past it).
create table relay.progress (
  slot_name text primary key,
  confirmed_lsn pg_lsn not null,
  published_until timestamptz,
  updated_at timestamptz not null default now()
);

-- The relay may read every outbox (replays, lag figures) and nothing else of
-- the services.
grant usage on schema orders, inventory, coupons, points to outbox_relay;
grant select on orders.outbox, inventory.outbox, coupons.outbox, points.outbox to outbox_relay;

-- What the relay's pgoutput slot streams: outbox inserts, and the heartbeat.
create publication outbox_pub
  for table orders.outbox, inventory.outbox, coupons.outbox, points.outbox, relay.heartbeat
  with (publish = 'insert');
