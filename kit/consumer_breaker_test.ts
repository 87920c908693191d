/**
 * The inbox consumer with a circuit breaker (SPEC §9.1), against real Kafka
 * and Postgres: while the handlers' dependency fails, the breaker opens and
 * the consumer pauses on the message in hand — nothing is dead-lettered, no
 * healthy message is burnt — and after the dependency is back a half-open
 * trial succeeds, the breaker closes and every message is handled once.
 */
import assert from "node:assert/strict";
import { eventually } from "../tests/support/dev.ts";
import { breakerSnapshots } from "./breaker.ts";
import { startConsumer } from "./consumer.ts";
import { ConsumerFixture, envelope } from "./testing.ts";

const kafkaTest = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "an open breaker pauses the consumer instead of dead-lettering; a good trial resumes it",
  kafkaTest,
  async () => {
    const k = await new ConsumerFixture().create();
    const name = `${k.id}-db`;
    let down = true;
    const events = Array.from({ length: 5 }, () => envelope("Work", {}));
    for (const e of events) await k.publish(e);
    const consumer = await startConsumer({
      kafka: k.kafka,
      sql: k.sql,
      groupId: k.groupId,
      topics: [k.topic],
      consumerName: k.consumerName,
      log: k.log,
      retry: { attempts: 3, delayMs: 50 },
      maxWaitTimeMs: 100,
      breaker: { name, failureRatePercent: 50, openMs: 800, windowSeconds: 10, minimumCalls: 3 },
      handlers: {
        Work: async (tx, event) => {
          // The dependency (here: the work the handler does) fails as a whole.
          if (down) throw new Error("could not extend file: No space left on device");
          await k.apply(tx, event.id);
        },
      },
    });
    const snapshot = () => breakerSnapshots().find((s) => s.name === name)!;
    try {
      await eventually(
        "the breaker to open",
        () => Promise.resolve(snapshot().state === "open" ? true : undefined),
        20_000,
        50,
      );
      // Two open periods with failing trials: still nothing dead-lettered.
      await eventually(
        "a failed half-open trial",
        () => Promise.resolve(snapshot().opened >= 2 ? true : undefined),
        20_000,
        50,
      );
      assert.equal(consumer.counters.deadLettered, 0);
      assert.ok(consumer.counters.breakerPauses >= 2, JSON.stringify(consumer.counters));
      assert.ok(k.log.lines.some((l) => l.message === "circuit breaker open; the consumer pauses"));

      down = false;
      await eventually(
        "every message handled",
        () => Promise.resolve(consumer.counters.handled === events.length ? true : undefined),
        20_000,
        50,
      );
      assert.equal(snapshot().state, "closed");
      for (const e of events) assert.equal(await k.appliedCount(e.id), 1);
    } finally {
      await consumer.stop();
    }
    assert.equal(consumer.counters.deadLettered, 0);
    assert.equal(await k.deadLetterCount(), 0);
    assert.equal(breakerSnapshots().some((s) => s.name === name), false, "stop() ends the breaker");
    await k.drop();
  },
);
