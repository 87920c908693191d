-- The suite's roles and schemas: one login role per service, confined to its
-- own schema, and the relay's role (see db/roles.ts). Roles are cluster-wide,
-- so they are created only when missing; their attributes are stated every
-- time. Passwords are not set here: db/migrate.ts sets them from the
-- environment after the files, so no secret is ever written in SQL.

do $$
declare
  r text;
begin
  foreach r in array array['order_service', 'inventory_service', 'coupon_service',
                           'point_service', 'outbox_relay'] loop
    begin
      execute format('create role %I', r);
    exception when duplicate_object or unique_violation then
      null; -- made by another database's migrations, or a concurrent run
    end;
  end loop;
end $$;

alter role order_service login nosuperuser nocreatedb nocreaterole noreplication nobypassrls;
alter role inventory_service login nosuperuser nocreatedb nocreaterole noreplication nobypassrls;
alter role coupon_service login nosuperuser nocreatedb nocreaterole noreplication nobypassrls;
alter role point_service login nosuperuser nocreatedb nocreaterole noreplication nobypassrls;
-- The relay reads the WAL through a logical replication slot.
alter role outbox_relay login replication nosuperuser nocreatedb nocreaterole nobypassrls;

-- Services write unqualified table names.
alter role order_service set search_path = orders;
alter role inventory_service set search_path = inventory;
alter role coupon_service set search_path = coupons;
alter role point_service set search_path = points;
alter role outbox_relay set search_path = relay;

-- Nobody but the superuser uses `public` (nor `meta`, which the migration
-- runner made without any grant).
revoke all on schema public from public;

-- A service has every right in its own schema and none in the others. The
-- schemas stay owned by the migrating superuser, so a service cannot drop the
-- tables migrations made (a schema's owner could).
create schema orders;
create schema inventory;
create schema coupons;
create schema points;
grant all on schema orders to order_service;
grant all on schema inventory to inventory_service;
grant all on schema coupons to coupon_service;
grant all on schema points to point_service;

-- Tables, sequences and functions that later migrations create (as the
-- superuser running them) give their schema's role every right.
alter default privileges in schema orders grant all on tables to order_service;
alter default privileges in schema orders grant all on sequences to order_service;
alter default privileges in schema orders grant all on functions to order_service;
alter default privileges in schema inventory grant all on tables to inventory_service;
alter default privileges in schema inventory grant all on sequences to inventory_service;
alter default privileges in schema inventory grant all on functions to inventory_service;
alter default privileges in schema coupons grant all on tables to coupon_service;
alter default privileges in schema coupons grant all on sequences to coupon_service;
alter default privileges in schema coupons grant all on functions to coupon_service;
alter default privileges in schema points grant all on tables to point_service;
alter default privileges in schema points grant all on sequences to point_service;
alter default privileges in schema points grant all on functions to point_service;

-- The relay owns its schema.
create schema relay authorization outbox_relay;
alter default privileges in schema relay grant all on tables to outbox_relay;
alter default privileges in schema relay grant all on sequences to outbox_relay;
