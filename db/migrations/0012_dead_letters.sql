-- The dead-letter service's state (services/deadletter/, SPEC §9.2): every
-- dead letter of the suite, one row per failed event and consumer, what
-- happened to it, and which DLQ records were already stored (so a record
-- read twice changes nothing). Its own login role, confined to its schema
-- like every service (0001); its password is set by db/migrate.ts from
-- DEADLETTER_DB_PASSWORD.

do $$
begin
  create role deadletter_service;
exception when duplicate_object or unique_violation then
  null; -- made by another database's migrations, or a concurrent run
end $$;
alter role deadletter_service login nosuperuser nocreatedb nocreaterole noreplication nobypassrls;
alter role deadletter_service set search_path = deadletters;

create schema deadletters;
grant all on schema deadletters to deadletter_service;
alter default privileges in schema deadletters grant all on tables to deadletter_service;
alter default privileges in schema deadletters grant all on sequences to deadletter_service;
alter default privileges in schema deadletters grant all on functions to deadletter_service;

-- One row per failed event and consumer: a dead letter that comes back after
-- a replay updates its row (failures + 1). `fingerprint` is what makes it
-- the same one: `<consumer>|event|<event id>`, or for a record without an
-- event id `<consumer>|offset|<topic>/<partition>/<offset>`.
--   PENDING (retryable) → REPLAYED → PENDING again when it fails again, or
--   NON_RETRYABLE after DEADLETTER_MAX_RETRIES replays; poison and relay rows
--   are NON_RETRYABLE at once; any → RESOLVED (an operator's "done").
create table deadletters.dead_letters (
  id bigint generated always as identity primary key,
  fingerprint text not null unique check (fingerprint <> ''),
  source text not null check (source in ('consumer', 'relay')),
  status text not null check (status in ('PENDING', 'REPLAYED', 'NON_RETRYABLE', 'RESOLVED')),
  retryable boolean not null,
  dlq_topic text not null,
  original_topic text not null,
  original_partition integer,
  original_offset bigint,
  key text,
  value bytea,
  headers jsonb not null default '{}' check (jsonb_typeof(headers) = 'object'),
  event_id text,
  event_type text,
  consumer text,
  consumer_group text,
  reason text not null,
  detail text,
  error_class text,
  error_message text,
  attempts integer,
  traceparent text,
  failures integer not null default 1 check (failures >= 1),
  replays integer not null default 0 check (replays >= 0),
  first_failure_at timestamptz,
  last_failure_at timestamptz,
  received_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  last_replayed_at timestamptz,
  resolved_at timestamptz,
  resolved_by text,
  note text
);
create index dead_letters_status_idx on deadletters.dead_letters (status, id);
create index dead_letters_topic_idx on deadletters.dead_letters (original_topic, id);
create index dead_letters_event_idx on deadletters.dead_letters (event_id);

-- Every DLQ record stored, by its position: the consumer's inbox.
create table deadletters.deliveries (
  dlq_topic text not null,
  dlq_partition integer not null,
  dlq_offset bigint not null,
  dead_letter_id bigint not null references deadletters.dead_letters (id) on delete cascade,
  received_at timestamptz not null default now(),
  primary key (dlq_topic, dlq_partition, dlq_offset)
);

-- What happened to each dead letter, for operators: arrivals, replays,
-- resolutions, the permanent-failure verdict.
create table deadletters.history (
  id bigint generated always as identity primary key,
  dead_letter_id bigint not null references deadletters.dead_letters (id) on delete cascade,
  at timestamptz not null default clock_timestamp(),
  action text not null check (action in ('received', 'failed-again', 'replayed', 'resolved', 'non-retryable')),
  detail text
);
create index history_dead_letter_idx on deadletters.history (dead_letter_id, id);
