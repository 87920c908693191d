/**
 * claimInbox(): a message is handled once per consumer, however often it is
 * delivered and however many instances race for it.
 */
import assert from "node:assert/strict";
import { connectAdmin, connectService } from "./connect.ts";
import { claimInbox, claimInboxBatch } from "./inbox.ts";
import { ensureMigrated, uniqueName } from "./testing.ts";
import type { Tx } from "./transaction.ts";

await ensureMigrated();

/** A promise with its resolve function, to hold a transaction open. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => open = r);
  return { promise, open };
}

async function removeClaims(consumer: string): Promise<void> {
  const admin = connectAdmin({ max: 1 });
  try {
    await admin`delete from inventory.inbox where consumer = ${consumer}`;
  } finally {
    await admin.end();
  }
}

/** Resolves once some session waits on a lock while inserting into the inbox. */
async function someoneWaitsOnTheInbox(consumer: string): Promise<void> {
  const admin = connectAdmin({ max: 1 });
  try {
    for (let i = 0; i < 100; i++) {
      const rows = await admin`
        select 1 from pg_stat_activity
        where wait_event_type = 'Lock' and query like '%insert into inbox%'
          and application_name = ${consumer}`;
      if (rows.length > 0) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error("the second claim never waited on the first");
  } finally {
    await admin.end();
  }
}

Deno.test("claimInbox() is true the first time and false for a redelivery", async () => {
  const sql = connectService("inventory_service", { max: 1 });
  const consumer = uniqueName("inventory.stock-deduction");
  const messageId = crypto.randomUUID();
  try {
    assert.equal(await sql.begin((tx) => claimInbox(tx, consumer, messageId)), true);
    assert.equal(await sql.begin((tx) => claimInbox(tx, consumer, messageId)), false);
    // Another consumer of the same message has its own claim.
    assert.equal(await sql.begin((tx) => claimInbox(tx, `${consumer}.other`, messageId)), true);
  } finally {
    await sql.end();
    await removeClaims(consumer);
    await removeClaims(`${consumer}.other`);
  }
});

Deno.test("claimInboxBatch() claims new ids once, not those claimed before", async () => {
  const sql = connectService("inventory_service", { max: 1 });
  const consumer = uniqueName("inventory.batch");
  const [a, b, c] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
  try {
    assert.equal(await sql.begin((tx) => claimInbox(tx, consumer, a)), true);
    const fresh = await sql.begin((tx) => claimInboxBatch(tx, consumer, [b, a, c, b]));
    assert.deepEqual([...fresh].sort(), [b, c].sort());
    assert.deepEqual(await sql.begin((tx) => claimInboxBatch(tx, consumer, [a, b, c])), new Set());
    assert.deepEqual(await sql.begin((tx) => claimInboxBatch(tx, consumer, [])), new Set());
    await assert.rejects(() => claimInboxBatch(sql as never, consumer, [a]), TypeError);
  } finally {
    await sql.end();
    await removeClaims(consumer);
  }
});

Deno.test("claimInbox() gives way to a racing claim that commits: the second gets false", async () => {
  const consumer = uniqueName("inventory.race");
  const messageId = crypto.randomUUID();
  const first = connectService("inventory_service", { max: 1 });
  const second = connectService("inventory_service", { max: 1, applicationName: consumer });
  const release = latch();
  try {
    const firstClaimed = latch();
    const firstTx = first.begin(async (tx) => {
      const claimed = await claimInbox(tx, consumer, messageId);
      firstClaimed.open();
      await release.promise; // hold the transaction open while the second claims
      return claimed;
    });
    await firstClaimed.promise;
    const secondTx = second.begin((tx) => claimInbox(tx, consumer, messageId));
    await someoneWaitsOnTheInbox(consumer);
    release.open();
    assert.equal(await firstTx, true);
    assert.equal(await secondTx, false);
  } finally {
    release.open(); // never leave the first transaction hanging, even on failure
    await first.end();
    await second.end();
    await removeClaims(consumer);
  }
});

Deno.test("claimInbox() lets the second claim through when the first rolls back", async () => {
  const consumer = uniqueName("inventory.rollback");
  const messageId = crypto.randomUUID();
  const first = connectService("inventory_service", { max: 1 });
  const second = connectService("inventory_service", { max: 1, applicationName: consumer });
  const release = latch();
  try {
    const firstClaimed = latch();
    const firstTx = first.begin(async (tx) => {
      assert.equal(await claimInbox(tx, consumer, messageId), true);
      firstClaimed.open();
      await release.promise;
      throw new Error("the handler failed");
    });
    await firstClaimed.promise;
    const secondTx = second.begin((tx) => claimInbox(tx, consumer, messageId));
    await someoneWaitsOnTheInbox(consumer);
    release.open();
    await assert.rejects(firstTx, /the handler failed/);
    assert.equal(await secondTx, true);
  } finally {
    release.open(); // never leave the first transaction hanging, even on failure
    await first.end();
    await second.end();
    await removeClaims(consumer);
  }
});

Deno.test("claimInbox() lets exactly one of many concurrent transactions claim a message", async () => {
  const consumer = uniqueName("inventory.burst");
  const messageId = crypto.randomUUID();
  const sql = connectService("inventory_service", { max: 8 });
  try {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => sql.begin((tx) => claimInbox(tx, consumer, messageId))),
    );
    assert.equal(results.filter(Boolean).length, 1, JSON.stringify(results));
  } finally {
    await sql.end();
    await removeClaims(consumer);
  }
});

Deno.test("claimInbox() refuses a pool and empty names", async () => {
  const sql = connectService("inventory_service", { max: 1 });
  try {
    await assert.rejects(
      claimInbox(sql as unknown as Tx, "c", "m"),
      (err: Error) => err instanceof TypeError && /caller's transaction/.test(err.message),
    );
    await assert.rejects(sql.begin((tx) => claimInbox(tx, "", "m")), /consumer must be/);
    await assert.rejects(sql.begin((tx) => claimInbox(tx, "c", "")), /messageId must be/);
  } finally {
    await sql.end();
  }
});
