/**
 * Inbox retention (issue 15 item 8): the rule (longer than the longest topic
 * retention plus the replay window), and a service's scheduled cleanup on a
 * throw-away database, as the service's own role. Real Postgres.
 */
import assert from "node:assert/strict";
import { claimInbox, connectService, type Sql } from "../db/mod.ts";
import { withScratchDatabase } from "../db/testing.ts";
import { EVENT_TOPICS } from "../kafka/mod.ts";
import { ConfigError } from "./env.ts";
import { loadInboxRetention, scheduleInboxCleanup } from "./inbox_retention.ts";
import { memoryLogger } from "./testing.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

/** Runs `fn` with the environment variables set (undefined: unset), then restores them. */
function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, x] of Object.entries(v)) {
      x === undefined ? Deno.env.delete(k) : Deno.env.set(k, x);
    }
  };
  apply(vars);
  try {
    return fn();
  } finally {
    apply(before);
  }
}

Deno.test("the default inbox retention outlasts the longest topic retention plus the replay window", () => {
  const longestTopic = Math.max(...EVENT_TOPICS.map((t) => t.retentionMs));
  assert.equal(longestTopic, 30 * DAY_MS);
  const unset = { INBOX_RETENTION_DAYS: undefined, RELAY_RETENTION_DAYS: undefined };
  const cfg = withEnv(unset, loadInboxRetention);
  assert.equal(cfg.retentionMs, 40 * DAY_MS); // 30 + 7 (the relay's event store) + 3
  // A longer event store lengthens the inbox's retention with it.
  const longer = withEnv({ ...unset, RELAY_RETENTION_DAYS: "14" }, loadInboxRetention);
  assert.equal(longer.retentionMs, 47 * DAY_MS);
  assert.equal(
    withEnv({ ...unset, INBOX_RETENTION_DAYS: "90" }, loadInboxRetention).retentionMs,
    90 * DAY_MS,
  );
});

Deno.test("an INBOX_RETENTION_DAYS inside the redelivery window is refused", () => {
  const env = { INBOX_RETENTION_DAYS: "36", RELAY_RETENTION_DAYS: undefined };
  assert.throws(() => withEnv(env, loadInboxRetention), ConfigError);
  assert.throws(() => withEnv(env, loadInboxRetention), /INBOX_RETENTION_DAYS=36.*37 days/);
});

/** Whether `consumer` would handle `messageId` now (its claim is new); rolled back either way. */
async function wouldHandle(sql: Sql, consumer: string, messageId: string): Promise<boolean> {
  let fresh = false;
  await sql.begin(async (tx) => {
    fresh = await claimInbox(tx, consumer, messageId);
    throw new Error("roll back");
  }).catch((err) => {
    if (err.message !== "roll back") throw err;
  });
  return fresh;
}

Deno.test("a service's inbox cleanup deletes claims past the retention, keeps younger ones, and still refuses their redelivery", async () => {
  await withScratchDatabase(async (database, admin) => {
    await admin`
      insert into inventory.inbox (consumer, message_id, processed_at) values
        ('inventory-service', 'past-retention', now() - interval '41 days'),
        ('inventory-service', 'past-topic-retention', now() - interval '36 days'),
        ('inventory-service', 'recent', now() - interval '1 hour')`;
    await admin`
      insert into points.inbox (consumer, message_id, processed_at) values
        ('point-service', 'someone-elses', now() - interval '41 days')`;
    const sql = connectService("inventory_service", { database, max: 2 });
    const log = memoryLogger();
    try {
      const retention = withEnv({ INBOX_RETENTION_DAYS: undefined }, loadInboxRetention);
      const cleanup = scheduleInboxCleanup({ sql, log, schema: "inventory", ...retention });
      await cleanup.stop(); // waits for the pass made at start

      const left = await admin`select message_id from inventory.inbox order by processed_at`;
      assert.deepEqual(left.map((r) => r.message_id), ["past-topic-retention", "recent"]);
      const others = await admin`select message_id from points.inbox`;
      assert.deepEqual(others.map((r) => r.message_id), ["someone-elses"]);
      assert.ok(log.lines.some((l) => l.message === "inbox retention"), "the pass is logged");

      // A redelivery inside the window (a rewound consumer, a replay) is still a duplicate.
      assert.equal(await wouldHandle(sql, "inventory-service", "past-topic-retention"), false);
      assert.equal(await wouldHandle(sql, "inventory-service", "recent"), false);
      // Past the retention no copy can come back; its claim is gone.
      assert.equal(await wouldHandle(sql, "inventory-service", "past-retention"), true);
    } finally {
      await sql.end();
    }
  });
});

Deno.test("the inbox cleanup runs again every interval", async () => {
  await withScratchDatabase(async (database, admin) => {
    const sql = connectService("point_service", { database, max: 1 });
    const cleanup = scheduleInboxCleanup({
      sql,
      log: memoryLogger(),
      schema: "points",
      retentionMs: DAY_MS,
      intervalMs: 1_000,
    });
    try {
      await admin`
        insert into points.inbox (consumer, message_id, processed_at)
        values ('point-service', 'later', now() - interval '2 days')`;
      const deadline = Date.now() + 5_000;
      let left = 1;
      while (left > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        [{ left }] = await admin`select count(*)::int as left from points.inbox`;
      }
      assert.equal(left, 0, "a claim that ages past the retention goes at the next pass");
    } finally {
      await cleanup.stop();
      await sql.end();
    }
  });
});
