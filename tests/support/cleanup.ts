/**
 * Removes what earlier, interrupted test runs left behind: their isolated
 * outboxes (schemas, publications, inactive replication slots — which would
 * otherwise pin WAL and use up max_replication_slots) and their Kafka topics.
 * `./dev test` runs it before the suite; nothing of the running system
 * matches these names.
 */
import { connectAdmin } from "../../db/mod.ts";
import { Admin } from "../../kafka/mod.ts";
import { testKafka } from "./kafka.ts";

const TEST_PREFIXES = /^(rt_|platform[-_])/;

const sql = connectAdmin({ max: 1 });
try {
  const slots = await sql<{ slot_name: string }[]>`
    select slot_name from pg_replication_slots where slot_name like 'rt\\_%' and not active`;
  for (const { slot_name } of slots) await sql`select pg_drop_replication_slot(${slot_name})`;
  const pubs = await sql<
    { pubname: string }[]
  >`select pubname from pg_publication where pubname like 'rt\\_%'`;
  for (const { pubname } of pubs) await sql.unsafe(`drop publication if exists "${pubname}"`);
  const schemas = await sql<{ nspname: string }[]>`
    select nspname from pg_namespace where nspname like 'rt\\_%'`;
  for (const { nspname } of schemas) await sql`drop schema if exists ${sql(nspname)} cascade`;
  await sql`delete from relay.progress where slot_name like 'rt\\_%'`;
  // The dead-letter service's test rows, and the faults tests/badinput/stock_outage_test.ts injects.
  await sql`delete from deadletters.dead_letters
            where dlq_topic like 'kit\\_%' or original_topic like 'dl-%'`;
  const faults = await sql<{ tgname: string; tbl: string }[]>`
    select tgname, tgrelid::regclass::text as tbl from pg_trigger where tgname like 'outage\\_%'`;
  for (const f of faults) await sql.unsafe(`drop trigger if exists "${f.tgname}" on ${f.tbl}`);
  const fns = await sql<{ proname: string }[]>`
    select proname from pg_proc where proname like 'outage\\_%' and pronamespace = 'inventory'::regnamespace`;
  for (const f of fns) await sql.unsafe(`drop function if exists inventory."${f.proname}"()`);
  // Coupon campaigns of interrupted burst tests and benchmarks (tests/coupon/support.ts).
  const stale = sql`select id from coupons.campaigns
    where id like 'fcfs-%' and created_at < now() - interval '1 hour'`;
  await sql`delete from coupons.outbox where event_type = 'CouponIssued'
            and payload->>'campaignId' in (${stale})`;
  await sql`delete from coupons.coupons where campaign_id in (${stale})`;
  await sql`delete from coupons.campaigns where id in (${stale})`;

  const admin = new Admin(testKafka("cleanup"));
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => TEST_PREFIXES.test(t));
    if (topics.length > 0) await admin.deleteTopics(topics);
    console.log(
      `    removed ${slots.length} slot(s), ${schemas.length} schema(s), ${topics.length} topic(s) of earlier test runs`,
    );
  } finally {
    await admin.disconnect();
  }
} finally {
  await sql.end();
}
