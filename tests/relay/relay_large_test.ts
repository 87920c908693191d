/**
 * Outbox relay, issue #15 item 1: transactions whose records together are
 * larger than the brokers' `message.max.bytes` (~1 MiB per partition's record
 * batch) are published — in several produce requests inside one Kafka
 * transaction — instead of being refused (MESSAGE_TOO_LARGE) and retried
 * forever. Each wait is bounded, so today's stuck relay fails the test
 * rather than hanging it.
 */
import assert from "node:assert/strict";
import { RELAY_DLQ_TOPIC, valueText } from "../../kafka/mod.ts";
import { sleep } from "../support/dev.ts";
import { Collector, testKafka } from "../support/kafka.ts";
import { assertExactlyOnceInOrder, RelayProcess, TestOutbox } from "../support/relay.ts";

const chaos = { sanitizeOps: false, sanitizeResources: false };

/** Rows of one key with consecutive sequence numbers (what assertExactlyOnceInOrder checks). */
function keyedRows(key: string, from: number, count: number, padBytes: number) {
  return Array.from({ length: count }, (_, i) => ({
    key,
    payload: { key, seq: from + i, pad: "x".repeat(padBytes) },
  }));
}

/** Runs `body` against a fresh outbox of `partitions` partitions with one relay. */
async function withRelay(
  name: string,
  partitions: number,
  body: (outbox: TestOutbox) => Promise<void>,
  opts: { env?: Record<string, string>; beforeStart?: (outbox: TestOutbox) => Promise<void> } = {},
): Promise<void> {
  const outbox = await new TestOutbox().create(partitions);
  await opts.beforeStart?.(outbox);
  const relay = new RelayProcess(outbox, name, opts.env).start();
  try {
    await relay.waitState("active");
    await body(outbox);
  } catch (err) {
    console.error(`${name}'s last output:\n${relay.logs().slice(-3_000)}`);
    throw err;
  } finally {
    await relay.stop();
    await outbox.drop();
  }
}

/** The outbox's topic holds exactly the one event `eventId` (the poison rows went to the DLQ). */
async function assertOnlyEvent(outbox: TestOutbox, eventId: string): Promise<void> {
  const events = await new Collector(testKafka("only-event"), [outbox.topic]).start();
  try {
    await events.until("the later event", (ms) => ms.length >= 1, 30_000);
    await sleep(1_000); // anything else published would show up now
    assert.deepEqual(events.messages.map((m) => m.headers["event-id"]), [eventId]);
  } finally {
    await events.stop();
  }
}

// One Postgres transaction over the brokers' 1 MiB record batch limit for
// one partition, then a later transaction of one small row.
for (
  const { what, rows, padBytes } of [
    { what: "2,000 rows of 600 B", rows: 2_000, padBytes: 600 }, // ~1.7 MB
    { what: "two rows of 600 KB", rows: 2, padBytes: 600_000 }, // each under the limit
  ]
) {
  Deno.test({
    name: `one transaction of ${what} under one key arrives once; a later event follows`,
    ...chaos,
    fn: () =>
      withRelay("relay-large-tx", 6, async (outbox) => {
        await outbox.insert(keyedRows("hot", 1, rows, padBytes));
        await outbox.insert(keyedRows("hot", rows + 1, 1, 10));
        assert.equal(await assertExactlyOnceInOrder(outbox, 60_000), rows + 1);
      }),
  });
}

Deno.test({
  name: "dead letters that together exceed 1 MiB are all sent to the relay DLQ; events still flow",
  ...chaos,
  fn: () =>
    withRelay("relay-many-dead", 1, async (outbox) => {
      const dlq = await new Collector(testKafka("many-dead"), [RELAY_DLQ_TOPIC]).start();
      try {
        // 15 rows for a topic that does not exist, each dead letter ~90 KB
        // (its payload is copied): ~1.35 MB for the DLQ's single partition.
        const dead = await outbox.insert(Array.from({ length: 15 }, (_, i) => ({
          key: "k",
          topic: `${outbox.id}-missing`,
          payload: { n: i, pad: "x".repeat(90_000) },
        })));
        const [later] = await outbox.insert(keyedRows("k", 1, 1, 10));
        const mine = () => dlq.messages.filter((m) => dead.includes(m.headers["event-id"]));
        await dlq.until("15 dead letters", () => mine().length >= 15, 60_000);
        assert.deepEqual(new Set(mine().map((m) => m.headers["event-id"])), new Set(dead));
        await assertOnlyEvent(outbox, later);
      } finally {
        await dlq.stop();
      }
    }),
});

Deno.test({
  name:
    "a row too large through its headers is dead-lettered, and no dead letter exceeds the limit",
  ...chaos,
  fn: () =>
    withRelay("relay-big-headers", 1, async (outbox) => {
      const dlq = await new Collector(testKafka("big-headers"), [RELAY_DLQ_TOPIC]).start();
      try {
        // A value of 700 KB passes a value-only check; with 400 KB of string
        // headers the record is over the brokers' limit.
        const [tooLarge] = await outbox.insert([{
          key: "k",
          payload: { pad: "x".repeat(700_000) },
          headers: { "x-big": "y".repeat(400_000) },
        }]);
        // Headers that are not strings are poison; copied whole into the
        // dead letter they would make it 1.2 MB.
        const [badHeaders] = await outbox.insert([{
          key: "k",
          payload: { n: 1 },
          headers: { "x-big": Array.from({ length: 120_000 }, () => 1234567890) },
        }]);
        const [later] = await outbox.insert(keyedRows("k", 1, 1, 10));
        const mine = () =>
          dlq.messages.filter((m) => [tooLarge, badHeaders].includes(m.headers["event-id"]));
        await dlq.until("both dead letters", () => mine().length >= 2, 60_000);
        const byId = new Map(mine().map((m) => [m.headers["event-id"], m]));
        assert.equal(byId.get(tooLarge)!.headers["dlq-reason"], "too-large");
        assert.equal(byId.get(badHeaders)!.headers["dlq-reason"], "bad-headers");
        const body = JSON.parse(valueText(byId.get(badHeaders)!)!);
        assert.equal(body.event.id, badHeaders);
        assert.ok(body.event.headersBytes > 1_000_000, "the dead letter says how big they were");
        await assertOnlyEvent(outbox, later);
      } finally {
        await dlq.stop();
      }
    }),
});

/**
 * How many of the outbox topic's records each Kafka transaction held (one
 * partition): a transaction's records have consecutive offsets, and its
 * commit marker takes the offset after them.
 */
async function transactionSizes(outbox: TestOutbox): Promise<number[]> {
  const records = await new Collector(testKafka("tx-sizes"), [outbox.topic]).start();
  try {
    await records.until("the records", (ms) => ms.length > 0, 30_000);
    await sleep(1_000);
    const offsets = records.messages.map((m) => Number(m.offset)).sort((a, b) => a - b);
    const sizes = [1];
    for (let i = 1; i < offsets.length; i++) {
      if (offsets[i] === offsets[i - 1] + 1) sizes[sizes.length - 1]++;
      else sizes.push(1);
    }
    return sizes;
  } finally {
    await records.stop();
  }
}

Deno.test({
  name: "a relay batch is bounded by RELAY_MAX_BATCH_BYTES, not only by its count of events",
  ...chaos,
  fn: () =>
    withRelay("relay-batch-bytes", 1, async (outbox) => {
      assert.equal(await assertExactlyOnceInOrder(outbox, 30_000), 5);
      assert.deepEqual(await transactionSizes(outbox), [1, 1, 1, 1, 1]);
    }, {
      // Five transactions of ~3 KB wait in the slot before the relay starts
      // and would all go in its first Kafka transaction (a long linger lets
      // them all arrive first); 4 KB of events a batch makes five.
      beforeStart: async (outbox) => {
        for (let seq = 1; seq <= 5; seq++) await outbox.insert(keyedRows("k", seq, 1, 3_000));
      },
      env: { RELAY_MAX_BATCH_BYTES: "4096", RELAY_LINGER_MS: "1000" },
    }),
});
