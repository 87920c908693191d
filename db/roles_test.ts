/**
 * The roles on the suite's database: each service is confined to its own
 * schema, the relay reads outboxes and writes only its own schema, and nobody
 * but the superuser uses `public` or `meta`.
 */
import assert from "node:assert/strict";
import { connectAdmin, connectService } from "./connect.ts";
import { type DbRole, SERVICE_SCHEMAS } from "./roles.ts";
import { appendOutbox } from "./outbox.ts";
import { ensureMigrated, sampleEvent, sqlState, uniqueName } from "./testing.ts";
import type { Tx } from "./transaction.ts";

await ensureMigrated();

const PERMISSION_DENIED = "42501";

/** Runs `fn` as `role` in a transaction that is always rolled back: tests leave no rows. */
async function asRole(role: DbRole, fn: (tx: Tx) => Promise<unknown>): Promise<unknown> {
  const sql = connectService(role, { max: 1 });
  const rollback = new Error("roll back");
  try {
    let result: unknown;
    await sql.begin(async (tx) => {
      result = await fn(tx);
      throw rollback;
    }).catch((err) => {
      if (err !== rollback) throw err;
    });
    return result;
  } finally {
    await sql.end();
  }
}

async function assertDenied(role: DbRole, query: string): Promise<void> {
  await assert.rejects(
    asRole(role, (tx) => tx.unsafe(query)),
    (err) => sqlState(err) === PERMISSION_DENIED,
    `${role} should be denied: ${query}`,
  );
}

Deno.test("each service role logs in with its schema as search_path", async () => {
  const roles = [
    ["order_service", "orders"],
    ["inventory_service", "inventory"],
    ["coupon_service", "coupons"],
    ["point_service", "points"],
    ["outbox_relay", "relay"],
  ] as const;
  for (const [role, schema] of roles) {
    const rows = await asRole(
      role,
      (tx) =>
        tx`select current_user as who, current_setting('search_path') as path,
                current_setting('application_name') as app`,
    ) as Record<string, string>[];
    assert.deepEqual({ ...rows[0] }, { who: role, path: schema, app: role });
  }
});

Deno.test("order_service writes its own outbox and inbox with unqualified names", async () => {
  await asRole("order_service", async (tx) => {
    await appendOutbox(tx, sampleEvent());
    await tx`insert into inbox (consumer, message_id) values ('roles-test', ${uniqueName("m")})`;
    await tx`create table scratch (id int)`; // all rights in its schema, DDL included
  });
});

Deno.test("order_service is denied inventory.outbox and every coupons table", async () => {
  await assertDenied("order_service", "select * from inventory.outbox");
  await assertDenied(
    "order_service",
    `insert into inventory.outbox (event_id, aggregate_type, aggregate_id, event_type, topic, key,
       payload) values (gen_random_uuid(), 'a', 'b', 'c', 'order-events', 'k', '{}')`,
  );
  await assertDenied("order_service", "select * from coupons.outbox");
  await assertDenied("order_service", "insert into coupons.inbox values ('c', 'm')");
  await assertDenied("order_service", "select * from relay.progress");
});

Deno.test("order_service cannot drop the tables migrations made", async () => {
  await assertDenied("order_service", "drop table orders.outbox");
});

Deno.test("outbox_relay reads every outbox, may only delete from it (retention), and owns relay", async () => {
  await asRole("outbox_relay", async (tx) => {
    for (const schema of SERVICE_SCHEMAS) {
      await tx`select count(*) from ${tx(`${schema}.outbox`)}`;
    }
    await tx`insert into relay.heartbeat default values`;
    await tx`
      insert into relay.progress (slot_name, confirmed_lsn, published_until)
      values (${uniqueName("roles_test")}, '0/0', now())
      on conflict (slot_name) do update set confirmed_lsn = excluded.confirmed_lsn`;
  });
  await assertDenied(
    "outbox_relay",
    `insert into orders.outbox (event_id, aggregate_type, aggregate_id, event_type, topic, key,
       payload) values (gen_random_uuid(), 'a', 'b', 'c', 'order-events', 'k', '{}')`,
  );
  await assertDenied(
    "outbox_relay",
    "update points.outbox set payload = '{}' where event_id = gen_random_uuid()",
  );
  await assertDenied("outbox_relay", "select * from orders.inbox");
});

Deno.test("no service role may create in public, nor read meta", async () => {
  for (const role of ["order_service", "point_service", "outbox_relay"] as const) {
    await assertDenied(role, `create table public.${uniqueName("intruder")} (id int)`);
    await assertDenied(role, "select * from meta.schema_migrations");
    await assertDenied(role, `create schema ${uniqueName("intruder")}`);
  }
});

Deno.test("only outbox_relay may replicate, and no role is a superuser", async () => {
  const admin = connectAdmin({ max: 1 });
  try {
    const rows = await admin`
      select rolname, rolcanlogin, rolreplication, rolsuper, rolcreatedb, rolcreaterole
      from pg_roles where rolname in ('order_service', 'inventory_service', 'coupon_service',
        'point_service', 'outbox_relay') order by rolname`;
    assert.equal(rows.length, 5);
    for (const r of rows) {
      assert.equal(r.rolcanlogin, true, r.rolname);
      assert.equal(r.rolreplication, r.rolname === "outbox_relay", r.rolname);
      assert.equal(r.rolsuper || r.rolcreatedb || r.rolcreaterole, false, r.rolname);
    }
  } finally {
    await admin.end();
  }
});
