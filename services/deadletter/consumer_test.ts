/**
 * The dead-letter service end to end with real Kafka (SPEC §9.2): an inbox
 * consumer dead-letters a failing event and a poison record; the service
 * stores them from the DLQ topic; a replay reaches the consumer, whose inbox
 * makes a second replay harmless; an event that keeps failing becomes
 * non-retryable after its retries, with the permanent-failure alert; the
 * periodic replay re-sends on its own.
 */
import assert from "node:assert/strict";
import { IdempotentProducer } from "../../kafka/mod.ts";
import { startConsumer } from "../../kit/mod.ts";
import { ConsumerFixture, envelope } from "../../kit/testing.ts";
import { eventually } from "../../tests/support/dev.ts";
import { startDeadLetterConsumer } from "./handlers/consumer.ts";
import { issueToken } from "../../kit/mod.ts";
import { replayPending, startPeriodicReplay } from "./handlers/replay.ts";
import { deadLetterHttp } from "./http.ts";
import { findDeadLetter } from "./store.ts";
import { DeadLetterFixture } from "./testing.ts";

const kafkaTest = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "dead letters are stored, replayed once per need, and give up after the retries",
  kafkaTest,
  async () => {
    const k = await new ConsumerFixture().create();
    await using f = (await DeadLetterFixture.create()).track(k.dlqTopic);
    const producer = new IdempotentProducer(k.kafka);
    await producer.connect();
    const deps = f.deps(producer, 1); // one replay, then non-retryable (SPEC: 5; 1 keeps it short)
    const broken = new Set<string>();
    const consumer = await startConsumer({
      kafka: k.kafka,
      sql: k.sql,
      groupId: k.groupId,
      topics: [k.topic],
      consumerName: k.consumerName,
      log: k.log,
      retry: { attempts: 2, delayMs: 50 },
      maxWaitTimeMs: 100,
      handlers: {
        Flaky: async (tx, event) => {
          if (broken.has(event.id)) throw new Error(`dependency down for ${event.id}`);
          await k.apply(tx, event.id);
        },
      },
    });
    const dlq = await startDeadLetterConsumer(deps, {
      kafka: k.kafka,
      groupId: `${k.groupId}-dlq`,
      topics: [k.dlqTopic],
      maxWaitTimeMs: 100,
    });
    const stored = (eventId: string | null, status: string) =>
      eventually(
        `dead letter ${eventId} ${status}`,
        async () => {
          const [row] = await f.sql<{ id: string; status: string }[]>`
        select id::text, status from dead_letters
        where dlq_topic = ${k.dlqTopic} and event_id is not distinct from ${eventId}`;
          return row?.status === status ? row.id : undefined;
        },
        30_000,
        100,
      );
    try {
      const healed = envelope("Flaky", {});
      const doomed = envelope("Flaky", {});
      broken.add(healed.id).add(doomed.id);
      await k.publish(healed, {
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      });
      await k.publish("{not json");
      await k.publish(doomed);

      const healedId = await stored(healed.id, "PENDING");
      const poisonId = await stored(null, "NON_RETRYABLE");
      const doomedId = await stored(doomed.id, "PENDING");
      const letter = await findDeadLetter(f.sql, healedId);
      assert.deepEqual(
        [letter?.reason, letter?.attempts, letter?.errorClass, letter?.consumer],
        ["handler-failed", 2, "Error", k.consumerName],
      );
      assert.match(letter?.traceparent ?? "", /^00-0af7651916cd43dd8448eb211c80319c-/);
      assert.equal((await findDeadLetter(f.sql, poisonId))?.reason, "not-json");
      assert.ok(f.log.lines.some((l) => l.message === "dead letter received"));

      // The dependency is back for one of them: replay everything retryable.
      broken.delete(healed.id);
      const ids = await replayPending(deps, { trigger: "test", topic: k.topic });
      assert.deepEqual(ids.sort(), [healedId, doomedId].sort());
      await eventually(
        "the healed event handled",
        async () => await k.appliedCount(healed.id) === 1 ? true : undefined,
        30_000,
        100,
      );
      // Replaying it again is harmless: the consumer's inbox has it.
      // Through the admin API, as an operator (or the console) would.
      const secret = crypto.randomUUID() + crypto.randomUUID();
      const res = await deadLetterHttp({ ...deps, jwtSecret: secret }).request(
        `/admin/dead-letters/${healedId}/replay`,
        {
          method: "POST",
          headers: {
            Authorization: `Bearer ${await issueToken(
              secret,
              { sub: "ops", roles: ["admin"] },
              60,
            )}`,
          },
        },
      );
      assert.equal(res.status, 200);
      assert.equal((await res.json()).status, "REPLAYED");
      // The doomed one failed again after its one replay: non-retryable, with the alert.
      await stored(doomed.id, "NON_RETRYABLE");
      assert.ok(f.log.lines.some((l) => l.message.startsWith("permanent failure")));
      assert.equal((await f.metrics.permanent.get()).values[0]?.value, 1);
      await eventually(
        "the second replay seen",
        () => Promise.resolve(consumer.counters.duplicates >= 1 ? true : undefined),
        30_000,
        100,
      );
      assert.equal(await k.appliedCount(healed.id), 1);
      assert.equal((await findDeadLetter(f.sql, healedId))?.status, "REPLAYED");
      assert.equal((await findDeadLetter(f.sql, healedId))?.replays, 2);

      // The periodic replay re-sends a PENDING one on its own.
      const late = envelope("Flaky", {});
      broken.add(late.id);
      await k.publish(late);
      await stored(late.id, "PENDING");
      broken.delete(late.id);
      const stop = startPeriodicReplay(deps, 200, { topic: k.topic });
      try {
        await eventually(
          "the periodic replay",
          async () => await k.appliedCount(late.id) === 1 ? true : undefined,
          30_000,
          100,
        );
      } finally {
        await stop();
      }
      assert.equal(consumer.counters.poison, 1);
    } finally {
      await consumer.stop();
      await dlq.stop();
      await producer.disconnect();
      await k.drop();
    }
  },
);
