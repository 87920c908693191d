/**
 * Retention, on a throw-away database (it deletes database-wide): old rows
 * go, but never an outbox row the relay has not published.
 */
import assert from "node:assert/strict";
import { connectService, type Sql } from "./connect.ts";
import { cleanupInbox, cleanupOutbox } from "./retention.ts";
import { withScratchDatabase } from "./testing.ts";

const DAY_MS = 24 * 60 * 60 * 1000;
const NOTHING = { orders: 0, inventory: 0, coupons: 0, points: 0 };

/** Inserts an outbox row in `schema`, `age` (a Postgres interval) old; returns its id. */
async function oldEvent(admin: Sql, schema: string, age: string): Promise<string> {
  const id = crypto.randomUUID();
  await admin`
    insert into ${admin(`${schema}.outbox`)}
      (event_id, aggregate_type, aggregate_id, event_type, topic, key, payload, created_at)
    values (${id}, 'order', 'o-1', 'OrderCreated', 'order-events', 'u-1', '{}',
            now() - ${age}::interval)`;
  return id;
}

async function remaining(admin: Sql, schema: string): Promise<string[]> {
  const rows = await admin`select event_id from ${admin(`${schema}.outbox`)} order by created_at`;
  return rows.map((r) => r.event_id);
}

/** Records that `slot` has published every event up to `ago` (an interval) ago. */
async function progress(admin: Sql, slot: string, ago: string): Promise<void> {
  await admin`
    insert into relay.progress (slot_name, confirmed_lsn, published_until)
    values (${slot}, '0/0', now() - ${ago}::interval)
    on conflict (slot_name) do update set published_until = excluded.published_until`;
}

Deno.test("cleanupOutbox() deletes old published events and keeps unpublished and recent ones", async () => {
  await withScratchDatabase(async (_db, admin) => {
    await oldEvent(admin, "orders", "10 days"); // published, then deleted
    const unpublished = await oldEvent(admin, "orders", "8 days");
    const recent = await oldEvent(admin, "orders", "1 hour");
    await oldEvent(admin, "coupons", "9 days"); // published, then deleted

    // No relay progress yet: nothing is known to be published, nothing goes.
    assert.deepEqual(await cleanupOutbox(admin), NOTHING);

    await progress(admin, "relay_slot", "9 days");
    assert.deepEqual(await cleanupOutbox(admin), { ...NOTHING, orders: 1, coupons: 1 });
    assert.deepEqual(await remaining(admin, "orders"), [unpublished, recent]);
    assert.deepEqual(await remaining(admin, "coupons"), []);

    // Published up to now: the 8-day-old row goes, the recent one stays (retention).
    await progress(admin, "relay_slot", "0 seconds");
    assert.deepEqual(await cleanupOutbox(admin), { ...NOTHING, orders: 1 });
    assert.deepEqual(await remaining(admin, "orders"), [recent]);

    // A shorter retention lets the recent one go too.
    assert.deepEqual(await cleanupOutbox(admin, { retentionMs: 60_000 }), {
      ...NOTHING,
      orders: 1,
    });
    assert.deepEqual(await remaining(admin, "orders"), []);
  });
});

Deno.test("cleanupOutbox() follows the slowest slot unless told which slot counts", async () => {
  await withScratchDatabase(async (_db, admin) => {
    const event = await oldEvent(admin, "points", "20 days");
    await progress(admin, "fast_slot", "0 seconds");
    await admin`
      insert into relay.progress (slot_name, confirmed_lsn) values ('new_slot', '0/0')`;
    // new_slot has published nothing (published_until is null): nothing goes.
    assert.deepEqual(await cleanupOutbox(admin), NOTHING);
    assert.deepEqual(await cleanupOutbox(admin, { slotName: "no_such_slot" }), NOTHING);
    await progress(admin, "new_slot", "30 days");
    assert.deepEqual(await cleanupOutbox(admin), NOTHING);
    assert.deepEqual(await remaining(admin, "points"), [event]);
    assert.deepEqual(await cleanupOutbox(admin, { slotName: "fast_slot" }), {
      ...NOTHING,
      points: 1,
    });
  });
});

Deno.test("cleanupOutbox() deletes in batches", async () => {
  await withScratchDatabase(async (_db, admin) => {
    for (let i = 0; i < 7; i++) await oldEvent(admin, "inventory", "8 days");
    await progress(admin, "relay_slot", "0 seconds");
    assert.deepEqual(await cleanupOutbox(admin, { batchSize: 3 }), { ...NOTHING, inventory: 7 });
  });
});

/** Inserts consumer `c`'s inbox claim of `messageId` in `schema`, `age` (a Postgres interval) old. */
async function oldClaim(admin: Sql, schema: string, messageId: string, age: string): Promise<void> {
  await admin`
    insert into ${admin(`${schema}.inbox`)} (consumer, message_id, processed_at)
    values ('c', ${messageId}, now() - ${age}::interval)`;
}

Deno.test("cleanupInbox() deletes claims older than the retention only", async () => {
  await withScratchDatabase(async (_db, admin) => {
    await oldClaim(admin, "orders", "old", "8 days");
    await oldClaim(admin, "orders", "new", "6 days");
    await oldClaim(admin, "points", "old", "30 days");
    assert.deepEqual(await cleanupInbox(admin), { ...NOTHING, orders: 1, points: 1 });
    const left = await admin`select message_id from orders.inbox`;
    assert.deepEqual(left.map((r) => r.message_id), ["new"]);
    assert.deepEqual(await cleanupInbox(admin, { retentionMs: 5 * DAY_MS }), {
      ...NOTHING,
      orders: 1,
    });
  });
});

Deno.test("cleanupInbox() for one schema, as that service's role, leaves the other inboxes alone", async () => {
  await withScratchDatabase(async (database, admin) => {
    await oldClaim(admin, "inventory", "old", "8 days");
    await oldClaim(admin, "inventory", "new", "1 day");
    await oldClaim(admin, "coupons", "old", "8 days");
    const inventory = connectService("inventory_service", { database, max: 1 });
    try {
      assert.deepEqual(await cleanupInbox(inventory, { schemas: ["inventory"] }), { inventory: 1 });
    } finally {
      await inventory.end();
    }
    const left = await admin`
      select 'inventory' as s, message_id from inventory.inbox
      union all select 'coupons', message_id from coupons.inbox order by 1, 2`;
    assert.deepEqual(left.map((r) => `${r.s}:${r.message_id}`), ["coupons:old", "inventory:new"]);
  });
});

Deno.test("retention refuses a negative retention or an empty batch", async () => {
  await withScratchDatabase(async (_db, admin) => {
    await assert.rejects(cleanupInbox(admin, { retentionMs: -1 }), RangeError);
    await assert.rejects(cleanupOutbox(admin, { batchSize: 0 }), RangeError);
  }, { migrated: false });
});
