/**
 * Outbox relay, issue #4: what becomes of particular rows — rolled back,
 * poison — and of an idle database's slot.
 */
import assert from "node:assert/strict";
import { RELAY_DLQ_TOPIC, valueText } from "../../kafka/mod.ts";
import { parseLsn } from "../../outbox-relay/lsn.ts";
import { eventually, sleep } from "../support/dev.ts";
import { Collector, testKafka } from "../support/kafka.ts";
import { RelayProcess, TestOutbox } from "../support/relay.ts";

const chaos = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "a rolled-back transaction's outbox row is never published; the next committed one is",
  ...chaos,
  fn: async () => {
    const outbox = await new TestOutbox().create(1);
    const relay = new RelayProcess(outbox, "relay-rollback").start();
    const collector = await new Collector(testKafka("rollback"), [outbox.topic]).start();
    try {
      const ghost = crypto.randomUUID();
      await assert.rejects(
        outbox.sql.begin(async (tx) => {
          await tx`insert into ${tx(outbox.schema)}.outbox
                     (event_id, aggregate_type, aggregate_id, event_type, topic, key, payload)
                   values (${ghost}, 'test', 'k', 'TestEvent', ${outbox.topic}, 'k', '{"seq":1}')`;
          throw new Error("roll back");
        }),
        /roll back/,
      );
      const [after] = await outbox.insert([{ key: "k", payload: { key: "k", seq: 1 } }]);
      await collector.until(
        "the committed event",
        (ms) => ms.some((m) => m.headers["event-id"] === after),
      );
      await sleep(1_000);
      assert.deepEqual(collector.messages.map((m) => m.headers["event-id"]), [after]);
    } finally {
      await collector.stop();
      await relay.stop();
      await outbox.drop();
    }
  },
});

Deno.test({
  name:
    "poison rows (unknown topic, oversized) go to the relay DLQ with the reason; later events still flow",
  ...chaos,
  fn: async () => {
    const outbox = await new TestOutbox().create(1);
    const relay = new RelayProcess(outbox, "relay-poison").start();
    const kafka = testKafka("poison");
    const events = await new Collector(kafka, [outbox.topic]).start();
    const dlq = await new Collector(kafka, [RELAY_DLQ_TOPIC]).start();
    try {
      const [before] = await outbox.insert([{ key: "k", payload: { key: "k", seq: 1 } }]);
      const [unknown] = await outbox.insert([{
        key: "k",
        payload: { n: 1 },
        topic: `${outbox.id}-missing`,
      }]);
      const [huge] = await outbox.insert([{ key: "k", payload: { blob: "x".repeat(1_200_000) } }]);
      const [after] = await outbox.insert([{ key: "k", payload: { key: "k", seq: 2 } }]);

      await events.until("the events around the poison", (ms) => ms.length >= 2);
      assert.deepEqual(events.messages.map((m) => m.headers["event-id"]), [before, after]);

      const mine = () =>
        dlq.messages.filter((m) => [unknown, huge].includes(m.headers["event-id"]));
      await dlq.until("both dead letters", () => mine().length >= 2);
      const byId = new Map(mine().map((m) => [m.headers["event-id"], m]));
      assert.equal(byId.get(unknown)!.headers["dlq-reason"], "unknown-topic");
      assert.equal(byId.get(unknown)!.headers["original-topic"], `${outbox.id}-missing`);
      assert.equal(byId.get(huge)!.headers["dlq-reason"], "too-large");
      const body = JSON.parse(valueText(byId.get(huge)!)!);
      assert.equal(body.event.id, huge);
      assert.ok(body.event.payloadBytes > 1_200_000);
    } finally {
      await events.stop();
      await dlq.stop();
      await relay.stop();
      await outbox.drop();
    }
  },
});

Deno.test({
  name: "on an idle database the heartbeat keeps the slot's confirmed position moving",
  ...chaos,
  fn: async () => {
    const outbox = await new TestOutbox().create(1);
    const relay = new RelayProcess(outbox, "relay-idle", { RELAY_HEARTBEAT_MS: "300" }).start();
    try {
      await relay.waitState("active");
      const lastBeat = async () =>
        (await outbox.sql<
          { id: string | null }[]
        >`select max(id)::text as id from relay.heartbeat`)[0].id;
      const beatBefore = Number(await lastBeat() ?? 0);
      const start = await eventually(
        "a confirmed position",
        () => outbox.confirmedLsn().then((l) => l ?? undefined),
      );
      // Unrelated WAL (not in the publication) while no event is written.
      await outbox.sql`create table ${outbox.sql(outbox.schema)}.noise (x int)`;
      await outbox.sql`insert into ${
        outbox.sql(outbox.schema)
      }.noise select generate_series(1, 1000)`;
      const moved = await eventually("the confirmed position to advance", async () => {
        const now = await outbox.confirmedLsn();
        return now && parseLsn(now) > parseLsn(start) ? now : undefined;
      }, 15_000);
      assert.ok(parseLsn(moved) > parseLsn(start));
      assert.ok(Number(await lastBeat()) > beatBefore, "the relay wrote heartbeats meanwhile");
    } finally {
      await relay.stop();
      await outbox.drop();
    }
  },
});
