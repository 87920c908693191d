/**
 * Splitting one send into several produce requests so that no partition's
 * record batch exceeds a byte budget (issue #15 item 1).
 *
 * The brokers refuse a record batch larger than `message.max.bytes` (Kafka's
 * default 1,048,588 bytes) with MESSAGE_TOO_LARGE, and kafkajs sends ONE
 * uncompressed batch per partition per request: 2,000 records of 600 B for
 * one key were refused, and a sender that retries the same batch is stuck
 * forever. Plans made here put each partition's records, in order, into
 * consecutive requests of at most `budget` bytes; sent one after another
 * (one in flight), they keep every partition's order. A record larger than
 * the budget goes alone in its request (whether it fits the brokers' limit
 * is the caller's check, e.g. the relay's `too-large` dead letter).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import kafkajs from "./kafkajs.ts";
import type { OutgoingMessage } from "./message.ts";

/** Messages for one topic, in the order they must be written. */
export interface TopicBatch {
  topic: string;
  messages: OutgoingMessage[];
}

/** Default budget: half of the brokers' default `message.max.bytes` (1 MiB). */
export const DEFAULT_PARTITION_BATCH_BYTES = 512 * 1024;

/** Record batch header of Kafka's v2 format (base offset … record count). */
export const RECORD_BATCH_OVERHEAD = 61;

/**
 * Upper bounds of a v2 record's own fields around its key, value and headers
 * (varints at their longest): length 5, attributes 1, timestamp delta 10,
 * offset delta 5, key and value lengths 5 + 5, header count 5; and per header
 * its name and value lengths 5 + 5.
 */
const RECORD_OVERHEAD = 36;
const HEADER_OVERHEAD = 10;

function bytesOf(v: string | Uint8Array | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === "string" ? Buffer.byteLength(v, "utf8") : v.byteLength;
}

/** What `m` adds to a record batch, counted high (never less than Kafka's own encoding). */
export function recordBytes(m: OutgoingMessage): number {
  let n = RECORD_OVERHEAD + bytesOf(m.key) + bytesOf(m.value);
  for (const [name, value] of Object.entries(m.headers ?? {})) {
    n += HEADER_OVERHEAD + bytesOf(name) + bytesOf(value);
  }
  return n;
}

/** Partition counts of topics (from cluster metadata). */
export type PartitionCounts = (topics: string[]) => Promise<Map<string, number>>;

/**
 * The partition kafkajs' producer picks for a message: kafkajs' own
 * DefaultPartitioner (Java-compatible murmur2 of the key), which is what our
 * producers use, so a key lands where it does in every other send. Keyless
 * messages are spread round-robin (their partition is then set explicitly).
 */
export function partitionerFor(): (
  topic: string,
  partitions: number,
  m: OutgoingMessage,
) => number {
  const pick = kafkajs.Partitioners.DefaultPartitioner();
  const metadata = new Map<number, { partitionId: number; leader: number }[]>();
  return (topic, partitions, m) => {
    let partitionMetadata = metadata.get(partitions);
    if (!partitionMetadata) {
      partitionMetadata = Array.from(
        { length: partitions },
        (_, i) => ({ partitionId: i, leader: 0 }),
      );
      metadata.set(partitions, partitionMetadata);
    }
    return pick({
      topic,
      // Only the partition count (and, for keyless messages, the ids) matter.
      partitionMetadata: partitionMetadata as Parameters<typeof pick>[0]["partitionMetadata"],
      message: { key: m.key, value: null, partition: m.partition },
    });
  };
}

/** One topic's messages in send order (a topic named twice is joined, in order). */
function byTopic(batches: TopicBatch[]): Map<string, OutgoingMessage[]> {
  const out = new Map<string, OutgoingMessage[]>();
  for (const b of batches) {
    const list = out.get(b.topic);
    if (list) list.push(...b.messages);
    else out.set(b.topic, [...b.messages]);
  }
  return out;
}

/**
 * Splits `batches` into requests (send them in this order, one at a time) in
 * which no partition's records exceed `budget` bytes. A topic whose records
 * all fit the budget stays whole in the first request, as before; only the
 * others are assigned partitions (explicitly, so the accounting holds
 * whatever partitioner the producer has), which needs their partition counts.
 */
export async function planRequests(
  batches: TopicBatch[],
  budget: number,
  partitionCounts: PartitionCounts,
  partitionOf: ReturnType<typeof partitionerFor>,
): Promise<TopicBatch[][]> {
  const topics = byTopic(batches);
  const sizes = new Map<string, number[]>();
  const over: string[] = [];
  for (const [topic, messages] of topics) {
    const each = messages.map(recordBytes);
    sizes.set(topic, each);
    if (RECORD_BATCH_OVERHEAD + each.reduce((a, b) => a + b, 0) > budget) over.push(topic);
  }
  if (over.length === 0) return [batches];

  const counts = await partitionCounts(over);
  const requests: Map<string, OutgoingMessage[]>[] = [new Map()];
  const put = (i: number, topic: string, m: OutgoingMessage) => {
    while (requests.length <= i) requests.push(new Map());
    const list = requests[i].get(topic);
    if (list) list.push(m);
    else requests[i].set(topic, [m]);
  };
  for (const [topic, messages] of topics) {
    if (!over.includes(topic)) {
      for (const m of messages) put(0, topic, m);
      continue;
    }
    const partitions = counts.get(topic);
    if (!partitions) throw new Error(`no partition count for topic ${topic}`);
    // Per partition: the request its records go to now, and the bytes there.
    const open = new Map<number, { request: number; bytes: number }>();
    for (const [i, m] of messages.entries()) {
      const partition = partitionOf(topic, partitions, m);
      const size = sizes.get(topic)![i];
      const at = open.get(partition) ?? { request: 0, bytes: RECORD_BATCH_OVERHEAD };
      if (at.bytes > RECORD_BATCH_OVERHEAD && at.bytes + size > budget) {
        at.request++;
        at.bytes = RECORD_BATCH_OVERHEAD;
      }
      at.bytes += size;
      open.set(partition, at);
      put(at.request, topic, { ...m, partition });
    }
  }
  return requests.map((r) => [...r].map(([topic, messages]) => ({ topic, messages })));
}
