import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import type { OutgoingMessage } from "./message.ts";
import { partitionerFor, planRequests, recordBytes, type TopicBatch } from "./partition_budget.ts";

const require = createRequire(import.meta.url);
const kafkajsRoot = require.resolve("kafkajs").replace(/index\.js$/, "");
const Record = require(`${kafkajsRoot}src/protocol/recordBatch/record/v0/index.js`);
const { RecordBatch } = require(`${kafkajsRoot}src/protocol/recordBatch/v0/index.js`);

/** The bytes kafkajs puts on the wire for these records as one partition's batch. */
async function encodedBatchBytes(messages: OutgoingMessage[]): Promise<number> {
  const now = Date.now();
  const records = messages.map((m, i) =>
    Record({
      offsetDelta: i,
      timestampDelta: 0,
      key: m.key === null ? null : Buffer.from(m.key),
      value: m.value === null ? null : Buffer.from(m.value as string),
      headers: m.headers,
    })
  );
  const batch = await RecordBatch({ records, firstTimestamp: now, maxTimestamp: now });
  // Offset, length and the rest: the size the broker compares with message.max.bytes.
  return batch.buffer.length;
}

const message = (key: string | null, valueBytes: number, seq = 0): OutgoingMessage => ({
  key,
  value: JSON.stringify({ seq, pad: "é".repeat(valueBytes / 2) }),
  headers: { "event-id": crypto.randomUUID(), traceparent: "00-" + "a".repeat(50) },
});

const counts = (n: number) => (topics: string[]) =>
  Promise.resolve(new Map(topics.map((t) => [t, n])));

/** Records per (topic, partition) of one request. */
function partitionsOf(request: TopicBatch[]): Map<string, OutgoingMessage[]> {
  const out = new Map<string, OutgoingMessage[]>();
  for (const b of request) {
    for (const m of b.messages) {
      const id = `${b.topic}/${m.partition}`;
      out.set(id, [...(out.get(id) ?? []), m]);
    }
  }
  return out;
}

Deno.test("recordBytes() is never less than kafkajs' encoding of the record", async () => {
  for (const m of [message("k", 10), message(null, 600), message("ключ", 100_000)]) {
    const alone = await encodedBatchBytes([m]) - (await encodedBatchBytes([]));
    assert.ok(recordBytes(m) >= alone, `${recordBytes(m)} < ${alone}`);
  }
});

Deno.test("a send whose topics each fit the budget is one request, unchanged", async () => {
  const batches = [{ topic: "a", messages: [message("k", 1_000), message("j", 1_000)] }];
  const plan = await planRequests(batches, 10_000, () => {
    throw new Error("no metadata is needed");
  }, partitionerFor());
  assert.deepEqual(plan, [batches]);
});

Deno.test("one key's records over the budget go in order into requests whose batches fit", async () => {
  const budget = 64 * 1024;
  const hot = Array.from({ length: 400 }, (_, i) => message("hot", 600, i));
  const cool = [message("cool-1", 600), message("cool-2", 600)];
  const plan = await planRequests(
    [{ topic: "t", messages: [...hot, ...cool] }, { topic: "cp", messages: [message("s", 50)] }],
    budget,
    counts(8),
    partitionerFor(),
  );
  assert.ok(plan.length >= 4, `${plan.length} requests`);
  const sent: OutgoingMessage[] = [];
  for (const request of plan) {
    for (const [id, messages] of partitionsOf(request)) {
      if (id.startsWith("t/")) {
        const bytes = await encodedBatchBytes(messages);
        assert.ok(bytes <= budget, `${id}: ${bytes} > ${budget}`);
      }
      sent.push(...messages.filter((m) => m.key === "hot"));
    }
  }
  assert.deepEqual(sent.map((m) => JSON.parse(m.value as string).seq), hot.map((_, i) => i));
  assert.equal(new Set(sent.map((m) => m.partition)).size, 1, "one key, one partition");
  // The small topic rides in the first request, as kafkajs would route it.
  assert.deepEqual(plan[0].find((b) => b.topic === "cp")?.messages.length, 1);
  assert.ok(plan.slice(1).every((r) => r.every((b) => b.topic === "t")));
});

Deno.test("a key's partition is kafkajs' DefaultPartitioner's; an explicit partition is kept", () => {
  const partitionOf = partitionerFor();
  // The very function kafkajs' producer calls when no partitioner is given.
  const reference = (key: string, n: number) =>
    require(`${kafkajsRoot}src/producer/partitioners/default/index.js`)()({
      topic: "t",
      partitionMetadata: Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 1 })),
      message: { key },
    });
  for (const key of ["hot", "user-7", "product-42"]) {
    assert.equal(partitionOf("t", 16, { key, value: "v" }), reference(key, 16));
  }
  assert.equal(partitionOf("t", 16, { key: "hot", value: "v", partition: 3 }), 3);
});

Deno.test("a record larger than the budget goes alone; the ones around it keep their order", async () => {
  const big = message("k", 200_000, 1);
  const plan = await planRequests(
    [{ topic: "t", messages: [message("k", 100, 0), big, message("k", 100, 2)] }],
    50_000,
    counts(1),
    partitionerFor(),
  );
  assert.deepEqual(
    plan.map((r) => r[0].messages.map((m) => JSON.parse(m.value as string).seq)),
    [[0], [1], [2]],
  );
});
