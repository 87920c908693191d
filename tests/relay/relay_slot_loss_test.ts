/**
 * Outbox relay, issue 15 item 3: a replication slot that was dropped and made
 * again, or a WAL that is behind the Kafka checkpoint, stops the relay with a
 * clear reason (/health, relay_blocked{reason}) instead of losing or skipping
 * events silently; `deno task rebaseline --from <time>` republishes from the
 * event store, records a new baseline, and the relay resumes.
 */
import assert from "node:assert/strict";
import { ensureRelaySlot } from "../../db/migrate.ts";
import { TransactionalProducer, valueText } from "../../kafka/mod.ts";
import { CheckpointStore } from "../../outbox-relay/checkpoint.ts";
import { parseLsn } from "../../outbox-relay/lsn.ts";
import { eventually, sleep } from "../support/dev.ts";
import { Collector, testKafka } from "../support/kafka.ts";
import { RelayProcess, TestOutbox } from "../support/relay.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const chaos = { sanitizeOps: false, sanitizeResources: false };

/** Runs the operator's command for the outbox's slot; returns its summary line. */
async function rebaseline(outbox: TestOutbox, from: Date): Promise<Record<string, unknown>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}outbox-relay/rebaseline.ts`,
      "--from",
      from.toISOString(),
      "--schema",
      outbox.schema,
    ],
    env: { RELAY_SLOT: outbox.slot },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, stdout + new TextDecoder().decode(out.stderr));
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

async function waitBlocked(relay: RelayProcess, reason: string): Promise<string> {
  const h = await eventually(`${relay.name} to refuse to publish (${reason})`, async () => {
    const h = await relay.health();
    return h?.state === "blocked" && h.blocked?.reason === reason ? h : undefined;
  }, 30_000);
  assert.match(await relay.metrics(), new RegExp(`relay_blocked\\{reason="${reason}"\\} 1`));
  return h.lastError ?? "";
}

const published = (c: Collector) => new Set(c.messages.map((m) => m.headers["event-id"]));

async function pgNow(outbox: TestOutbox): Promise<Date> {
  const [{ now }] = await outbox.sql<{ now: Date }[]>`select now() as now`;
  return now;
}

interface Published {
  outbox: TestOutbox;
  collector: Collector;
  /** Stopped; it looks again soon after refusing once started. */
  relay: RelayProcess;
  /** Before the first event: where a rebaseline starts. */
  from: Date;
  first: string;
}

/** Runs `fn` after a relay published one event through its slot and stopped; cleans up. */
async function afterOnePublished(name: string, fn: (p: Published) => Promise<void>) {
  const outbox = await new TestOutbox().create(3);
  const collector = await new Collector(testKafka(name), [outbox.topic]).start();
  const relay = new RelayProcess(outbox, name, { RELAY_BLOCKED_POLL_MS: "500" }).start();
  try {
    const from = await pgNow(outbox);
    const [first] = await outbox.insert([{ key: "k", payload: { n: 1 } }]);
    await collector.until("the first event", () => published(collector).has(first));
    await eventually("the relay's progress row", async () => {
      const rows = await outbox.sql`select 1 from relay.progress where slot_name = ${outbox.slot}`;
      return rows.length > 0 ? true : undefined;
    });
    await relay.stop();
    await fn({ outbox, collector, relay, from, first });
  } finally {
    await relay.stop();
    await collector.stop();
    await outbox.drop();
  }
}

Deno.test({
  name:
    "a dropped slot is not made again by the relay, a re-created one stops it, and rebaseline republishes what the gap lost",
  ...chaos,
  fn: () =>
    afterOnePublished("relay-slot-lost", async ({ outbox, collector, relay, from, first }) => {
      // The slot is dropped; what commits now is in no slot.
      await outbox.sql`select pg_drop_replication_slot(${outbox.slot})`;
      const [gap] = await outbox.insert([{ key: "k", payload: { n: 2 } }]);
      relay.start();
      assert.match(await waitBlocked(relay, "slot_missing"), /rebaseline/);
      const slots = await outbox
        .sql`select 1 from pg_replication_slots where slot_name = ${outbox.slot}`;
      assert.equal(slots.length, 0, "the relay does not make a lost slot again");

      // `./dev up`'s migration makes it again: the relay still refuses.
      await ensureRelaySlot(outbox.sql, outbox.slot);
      const [after] = await outbox.insert([{ key: "k", payload: { n: 3 } }]);
      await waitBlocked(relay, "slot_recreated");
      await sleep(1_000);
      assert.ok(!published(collector).has(after), "nothing is published from a re-created slot");

      const summary = await rebaseline(outbox, from);
      assert.equal(summary.published, 3, JSON.stringify(summary));
      await relay.waitState("active");
      assert.doesNotMatch(await relay.metrics(), /relay_blocked\{[^}]*\} 1/);
      const [later] = await outbox.insert([{ key: "k", payload: { n: 4 } }]);
      await collector.until(
        "every stored event, the lost one included",
        () => [first, gap, after, later].every((id) => published(collector).has(id)),
      );
    }),
});

Deno.test({
  name:
    "a WAL behind the checkpoint (a restore) stops the relay instead of skipping new events, until rebaseline",
  ...chaos,
  fn: () =>
    afterOnePublished("relay-wal-behind", async ({ outbox, collector, relay, from, first }) => {
      // As after a restore from a backup: Kafka holds a checkpoint that the
      // (restored) WAL has not reached yet.
      const [{ wal }] = await outbox.sql<
        { wal: string }[]
      >`select pg_current_wal_lsn()::text as wal`;
      const kafka = testKafka("wal-behind-plant");
      const producer = new TransactionalProducer(kafka, {
        transactionalId: `outbox-relay-${outbox.slot}`,
      });
      try {
        await new CheckpointStore(kafka, outbox.slot).write(producer, {
          lsn: parseLsn(wal) + 64n * 1024n * 1024n,
          commitTime: await pgNow(outbox),
        }, "relay-before-the-restore");
      } finally {
        await producer.close();
      }
      await sleep(10); // commit times are in milliseconds
      const [behind] = await outbox.insert([{ key: "k", payload: { n: 2 } }]);
      relay.start();
      assert.match(await waitBlocked(relay, "wal_behind"), /behind Kafka/);
      await sleep(1_000);
      assert.ok(!published(collector).has(behind), "the new event is neither skipped nor sent");

      const summary = await rebaseline(outbox, from);
      assert.equal(summary.published, 2, JSON.stringify(summary));
      await relay.waitState("active");
      const [later] = await outbox.insert([{ key: "k", payload: { n: 3 } }]);
      await collector.until(
        "every stored event",
        () => [first, behind, later].every((id) => published(collector).has(id)),
      );
      const payloads = collector.messages.map((m) => JSON.parse(valueText(m)!).payload.n);
      assert.ok(payloads.includes(3), "the relay publishes again after the new baseline");
    }),
});
