/**
 * Issue #15 item 1, the dead-letter side: a replay pins up to 100 letters to
 * their original partitions. Letters that together exceed the brokers' ~1 MiB
 * per partition's record batch must still all be re-sent (in several
 * requests), not refused with MESSAGE_TOO_LARGE on every round.
 */
import assert from "node:assert/strict";
import { Admin, IdempotentProducer } from "../../kafka/mod.ts";
import { Collector, testKafka } from "../../tests/support/kafka.ts";
import { handleArrival } from "./handlers/arrival.ts";
import { replayPending } from "./handlers/replay.ts";
import { DeadLetterFixture } from "./testing.ts";

const kafkaTest = { sanitizeOps: false, sanitizeResources: false };

/** Rejects if `p` has not settled within `ms` (a refused send must fail the test, not hang it). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

Deno.test(
  "a replay of letters pinned to one partition, together over 1 MiB, re-sends every one once",
  kafkaTest,
  async () => {
    await using f = await DeadLetterFixture.create();
    const kafka = testKafka("replay-large");
    const admin = new Admin(kafka);
    await admin.connect();
    const producer = new IdempotentProducer(kafka);
    await producer.connect();
    let collector: Collector | null = null;
    try {
      await admin.createTopic(f.topic, 2);
      const deps = f.deps(producer);
      // 60 letters of ~25 KB, all from partition 0: ~1.5 MB for one partition.
      const eventIds = Array.from({ length: 60 }, () => crypto.randomUUID());
      for (const eventId of eventIds) {
        const value = JSON.stringify({
          id: eventId,
          type: "Test",
          payload: { pad: "x".repeat(25_000) },
        });
        await handleArrival(deps, f.record({ eventId, value }));
      }
      assert.equal((await f.rows()).length, 60);

      const ids = await within(
        replayPending(deps, { trigger: "test", topic: f.topic }),
        30_000,
        "the replay",
      );
      assert.equal(ids.length, 60);
      assert.ok((await f.rows()).every((r) => r.status === "REPLAYED"));

      collector = await new Collector(kafka, [f.topic]).start();
      await collector.until("60 replayed records", (ms) => ms.length >= 60, 30_000);
      const seen = collector.messages.map((m) => m.headers["event-id"]);
      assert.deepEqual(seen.toSorted(), eventIds.toSorted(), "each letter exactly once");
      assert.ok(collector.messages.every((m) => m.partition === 0), "on its original partition");
    } finally {
      await collector?.stop();
      await producer.disconnect();
      await admin.deleteTopics([f.topic]).catch(() => {});
      await admin.disconnect();
    }
  },
);
