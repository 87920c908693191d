/**
 * startConsumer(): an event's effects happen once however often Kafka
 * delivers it; failures are retried in place, then dead-lettered (SPEC §9.2)
 * while the partition keeps flowing. Real Kafka, real Postgres.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { eventually, sleep } from "../tests/support/dev.ts";
import {
  type ConsumerCounters,
  type EventHandlers,
  PoisonMessageError,
  startConsumer,
  type StartConsumerOptions,
} from "./consumer.ts";
import { claimInbox } from "../db/mod.ts";
import { DLQ_HEADERS as H } from "./dead_letter.ts";
import { trace } from "./tracing.ts";
import { ConsumerFixture, envelope } from "./testing.ts";

const kafkaTest = { sanitizeOps: false, sanitizeResources: false };
const FAST_RETRY = { attempts: 3, delayMs: 50 };

function start(
  f: ConsumerFixture,
  handlers: EventHandlers,
  sql: postgres.Sql = f.sql,
  more: Partial<StartConsumerOptions> = {},
) {
  return startConsumer({
    kafka: f.kafka,
    sql,
    groupId: f.groupId,
    topics: [f.topic],
    consumerName: f.consumerName,
    handlers,
    log: f.log,
    retry: FAST_RETRY,
    maxWaitTimeMs: 100,
    ...more,
  });
}

function until(counters: Readonly<ConsumerCounters>, what: string, done: () => boolean) {
  return eventually(what, () => Promise.resolve(done() ? true : undefined), 30_000, 50)
    .catch((err) => {
      throw new Error(`${err.message}; counters: ${JSON.stringify(counters)}`, { cause: err });
    });
}

async function withFixture(fn: (f: ConsumerFixture) => Promise<void>): Promise<void> {
  const f = await new ConsumerFixture().create();
  try {
    await fn(f);
  } finally {
    await f.drop();
  }
}

Deno.test(
  "startConsumer() applies an event once when it is delivered twice",
  kafkaTest,
  async () => {
    await withFixture(async (f) => {
      const event = envelope("StockDeductionRequested", { productId: "p-1", quantity: 2 });
      await f.publish(event);
      await f.publish(event); // the same envelope again: a redelivery
      const consumer = await start(f, {
        StockDeductionRequested: (tx, e) => f.apply(tx, e.id),
      });
      try {
        const c = consumer.counters;
        await until(c, "both deliveries", () => c.handled + c.duplicates === 2);
        assert.deepEqual({ ...c }, {
          handled: 1,
          duplicates: 1,
          skipped: 0,
          retried: 0,
          deadLettered: 0,
          poison: 0,
          breakerPauses: 0,
          batches: 1, // both deliveries in one transaction: the second a duplicate of the first
          batchFallbacks: 0,
        });
        assert.equal(await f.appliedCount(event.id), 1);
        assert.deepEqual(await f.claims(), [event.id]);
      } finally {
        await consumer.stop();
      }
      assert.equal(await f.committedOffset(), "2", "both offsets committed");
    });
  },
);

Deno.test(
  "startConsumer() retries a failing handler in place and applies the event once",
  kafkaTest,
  async () => {
    await withFixture(async (f) => {
      const event = envelope("StockDeductionRequested");
      await f.publish(event);
      let runs = 0;
      const consumer = await start(f, {
        StockDeductionRequested: async (tx, e) => {
          runs++;
          await f.apply(tx, e.id, `run ${runs}`); // rolled back when the run fails
          if (runs <= 2) throw new Error(`transient failure ${runs}`);
        },
      });
      try {
        const c = consumer.counters;
        await until(c, "the event to be handled", () => c.handled === 1);
        assert.equal(runs, 3);
        assert.equal(c.retried, 2);
        assert.equal(c.deadLettered, 0);
        assert.equal(await f.appliedCount(event.id), 1);
        assert.equal(await f.deadLetterCount(), 0);
      } finally {
        await consumer.stop();
      }
    });
  },
);

Deno.test(
  "startConsumer() dead-letters an event whose handler keeps failing, and handles the next one",
  kafkaTest,
  async () => {
    class InventoryDown extends Error {
      override name = "InventoryDown";
    }
    await withFixture(async (f) => {
      const bad = envelope("StockDeductionRequested", { productId: "broken" });
      const good = envelope("StockDeductionRequested", { productId: "p-2" });
      const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
      await f.publish(bad, { traceparent });
      await f.publish(good);
      let badRuns = 0;
      const consumer = await start(f, {
        StockDeductionRequested: async (tx, e) => {
          if (e.payload.productId === "broken") {
            badRuns++;
            throw new InventoryDown(`no stock row for broken (run ${badRuns})`);
          }
          await f.apply(tx, e.id);
        },
      });
      try {
        const c = consumer.counters;
        await until(c, "the next event to be handled", () => c.handled === 1);
        // Fetched together: once in their batch transaction (rolled back),
        // then 3 attempts on its own.
        assert.equal(c.batchFallbacks, 1);
        assert.equal(badRuns, 4);
        assert.equal(c.retried, 2);
        assert.equal(c.deadLettered, 1);
        assert.equal(await f.appliedCount(good.id), 1);
        assert.equal(await f.appliedCount(bad.id), 0);
        assert.deepEqual(await f.claims(), [good.id], "a dead letter leaves no inbox claim");

        const [letter] = await f.deadLetters(1);
        const h = letter.headers;
        assert.equal(h[H.originalTopic], f.topic);
        assert.equal(h[H.originalPartition], "0");
        assert.equal(h[H.originalOffset], "0");
        assert.equal(h[H.reason], "handler-failed");
        assert.equal(h[H.errorClass], "InventoryDown");
        assert.equal(h[H.errorMessage], "no stock row for broken (run 4)");
        assert.equal(h[H.attempts], "3");
        const first = Date.parse(h[H.firstFailureAt]);
        const last = Date.parse(h[H.lastFailureAt]);
        assert.ok(
          last - first >= 2 * FAST_RETRY.delayMs,
          `${h[H.firstFailureAt]} → ${h[H.lastFailureAt]}`,
        );
        assert.equal(h.traceparent, traceparent);
        assert.equal(h[H.eventId], bad.id);
        assert.equal(h[H.eventType], "StockDeductionRequested");
        assert.equal(h[H.consumer], f.consumerName);
        assert.equal(h[H.consumerGroup], f.groupId);
        assert.equal(h["source-lsn"], "0/16B3748", "the original headers stay");
        assert.equal(letter.key, "key-1");
        assert.deepEqual(
          JSON.parse(new TextDecoder().decode(letter.value!)),
          bad,
          "the value unchanged",
        );
      } finally {
        await consumer.stop();
      }
      assert.equal(await f.committedOffset(), "2");
    });
  },
);

Deno.test(
  "startConsumer() dead-letters a record that is not JSON at once, with the reason",
  kafkaTest,
  async () => {
    await withFixture(async (f) => {
      const good = envelope("StockDeductionRequested");
      await f.publish("{ this is not json");
      await f.publish(JSON.stringify({ type: "StockDeductionRequested", payload: {} })); // no id
      await f.publish(good);
      let runs = 0;
      const consumer = await start(f, {
        StockDeductionRequested: async (tx, e) => {
          runs++;
          await f.apply(tx, e.id);
        },
      });
      try {
        const c = consumer.counters;
        await until(c, "the valid event to be handled", () => c.handled === 1);
        assert.equal(runs, 1, "the handler never saw the poison");
        assert.equal(c.retried, 0);
        assert.equal(c.deadLettered, 2);
        assert.equal(c.poison, 2);
        const letters = await f.deadLetters(2);
        const byOffset = new Map(letters.map((m) => [m.headers[H.originalOffset], m.headers]));
        assert.equal(byOffset.get("0")?.[H.reason], "not-json");
        assert.match(byOffset.get("0")?.[H.detail] ?? "", /^the value is not JSON/);
        assert.equal(byOffset.get("0")?.[H.attempts], "1");
        assert.equal(byOffset.get("0")?.[H.errorClass], "PoisonMessageError");
        assert.equal(byOffset.get("1")?.[H.reason], "bad-envelope");
        assert.match(byOffset.get("1")?.[H.detail] ?? "", /\bid\b/);
        assert.equal(new TextDecoder().decode(letters[0].value!), "{ this is not json");
      } finally {
        await consumer.stop();
      }
    });
  },
);

Deno.test(
  "startConsumer() dead-letters an event its handler rejects, without retries",
  kafkaTest,
  async () => {
    await withFixture(async (f) => {
      await f.publish(envelope("StockDeductionRequested", { quantity: "many" }));
      let runs = 0;
      const consumer = await start(f, {
        StockDeductionRequested: () => {
          runs++;
          throw new PoisonMessageError("quantity must be a number");
        },
      });
      try {
        const c = consumer.counters;
        await until(c, "the dead letter", () => c.deadLettered === 1);
        assert.equal(runs, 1);
        assert.equal(c.retried, 0);
        const [letter] = await f.deadLetters(1);
        assert.equal(letter.headers[H.reason], "rejected");
        assert.equal(letter.headers[H.errorMessage], "quantity must be a number");
      } finally {
        await consumer.stop();
      }
    });
  },
);

Deno.test(
  "startConsumer() acknowledges and skips event types it has no handler for",
  kafkaTest,
  async () => {
    await withFixture(async (f) => {
      const other = envelope("OrderCompleted");
      const mine = envelope("StockDeductionRequested");
      await f.publish(other);
      await f.publish(mine);
      const consumer = await start(f, {
        StockDeductionRequested: (tx, e) => f.apply(tx, e.id),
      });
      try {
        const c = consumer.counters;
        await until(c, "the known event to be handled", () => c.handled === 1);
        assert.equal(c.skipped, 1);
        assert.deepEqual(await f.claims(), [mine.id], "a skipped event is not claimed");
      } finally {
        await consumer.stop();
      }
      assert.equal(await f.committedOffset(), "2");
      assert.equal(await f.deadLetterCount(), 0);
    });
  },
);

Deno.test(
  "stop() during retries leaves the message for the group's next consumer",
  kafkaTest,
  async () => {
    await withFixture(async (f) => {
      const event = envelope("StockDeductionRequested");
      await f.publish(event);
      let failing = true;
      const handlers: EventHandlers = {
        StockDeductionRequested: async (tx, e) => {
          if (failing) throw new Error("still failing");
          await f.apply(tx, e.id);
        },
      };
      const first = await startConsumer({
        kafka: f.kafka,
        sql: f.sql,
        groupId: f.groupId,
        topics: [f.topic],
        consumerName: f.consumerName,
        handlers,
        log: f.log,
        retry: { attempts: 3, delayMs: 60_000 }, // stop() comes during the first pause
        maxWaitTimeMs: 100,
      });
      await until(first.counters, "the first failure", () => first.counters.retried === 1);
      const stopStarted = Date.now();
      await first.stop();
      assert.ok(Date.now() - stopStarted < 15_000, "stop() did not wait out the retry delay");
      assert.equal(first.counters.deadLettered, 0);
      assert.ok(
        f.log.lines.some((l) => l.message.includes("left unacknowledged")),
        "the message was not acknowledged",
      );
      assert.equal(await f.committedOffset(), "-1", "nothing committed");

      failing = false;
      const second = await start(f, handlers);
      try {
        await until(
          second.counters,
          "the next consumer to handle it",
          () => second.counters.handled === 1,
        );
        assert.equal(await f.appliedCount(event.id), 1);
      } finally {
        await second.stop();
      }
      assert.equal(await f.deadLetterCount(), 0);
    });
  },
);

Deno.test(
  "startConsumer() waits for an unreachable database instead of dead-lettering",
  kafkaTest,
  async () => {
    await withFixture(async (f) => {
      await f.publish(envelope("StockDeductionRequested"));
      // A port nobody listens on: every transaction fails to connect.
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (listener.addr as Deno.NetAddr).port;
      listener.close();
      const down = postgres({
        host: "127.0.0.1",
        port,
        connect_timeout: 1,
        max: 1,
        onnotice: () => {},
      });
      let runs = 0;
      const consumer = await start(f, {
        StockDeductionRequested: () => {
          runs++;
          return Promise.resolve();
        },
      }, down);
      try {
        const c = consumer.counters;
        await until(c, "two waits for the database", () => c.retried >= 2);
        await sleep(500);
        assert.equal(c.deadLettered, 0, "attempts are not used up while the database is away");
        assert.equal(c.handled, 0);
        assert.equal(runs, 0);
      } finally {
        await consumer.stop();
        await down.end();
      }
      assert.equal(await f.deadLetterCount(), 0);
      assert.equal(await f.committedOffset(), "-1");
    });
  },
);

Deno.test(
  "startConsumer() handles a fetched batch in one transaction, each event once",
  kafkaTest,
  async () => {
    await withFixture(async (f) => {
      const events = Array.from(
        { length: 10 },
        (_, i) => envelope("StockDeductionRequested", { i }),
      );
      for (const e of events) await f.publish(e); // all there before the first fetch
      const consumer = await start(f, {
        StockDeductionRequested: (tx, e) => f.apply(tx, e.id),
      });
      try {
        const c = consumer.counters;
        await until(c, "every event", () => c.handled === events.length);
        assert.ok(c.batches >= 1, JSON.stringify(c));
        assert.equal(c.batchFallbacks, 0);
        assert.equal(c.duplicates, 0);
        const transactions = await f.appliedTransactions();
        assert.ok(transactions < events.length, `${transactions} transactions for 10 events`);
        for (const e of events) assert.equal(await f.appliedCount(e.id), 1);
        assert.equal((await f.claims()).length, events.length);
      } finally {
        await consumer.stop();
      }
      assert.equal(await f.committedOffset(), String(events.length), "every offset committed");
      assert.equal(await f.deadLetterCount(), 0);
    });
  },
);

Deno.test(
  "startConsumer() without batching (batchMessages: 1) uses a transaction per event",
  kafkaTest,
  async () => {
    await withFixture(async (f) => {
      const events = Array.from({ length: 4 }, () => envelope("StockDeductionRequested"));
      for (const e of events) await f.publish(e);
      const consumer = await start(
        f,
        {
          StockDeductionRequested: (tx, e) => f.apply(tx, e.id),
        },
        f.sql,
        { batchMessages: 1 },
      );
      try {
        const c = consumer.counters;
        await until(c, "every event", () => c.handled === events.length);
        assert.equal(c.batches, 0);
        assert.equal(await f.appliedTransactions(), events.length);
      } finally {
        await consumer.stop();
      }
      assert.equal(await f.committedOffset(), String(events.length));
    });
  },
);

Deno.test(
  "a handler failing in a batch rolls it back; each event is then handled once on its own",
  kafkaTest,
  async () => {
    await withFixture(async (f) => {
      const events = Array.from(
        { length: 5 },
        (_, i) => envelope("StockDeductionRequested", { i }),
      );
      for (const e of events) await f.publish(e);
      const runs = new Map<string, number>();
      const consumer = await start(f, {
        StockDeductionRequested: async (tx, e) => {
          const n = (runs.get(e.id) ?? 0) + 1;
          runs.set(e.id, n);
          await f.apply(tx, e.id, `run ${n}`); // rolled back when the batch fails
          if (e.payload.i === 2 && n === 1) throw new Error("transient failure");
        },
      });
      try {
        const c = consumer.counters;
        await until(c, "every event", () => c.handled === events.length);
        assert.equal(c.batchFallbacks, 1, JSON.stringify(c));
        assert.equal(c.retried, 0, "the event's own attempt succeeded at once");
        assert.equal(c.deadLettered, 0);
        assert.equal(c.duplicates, 0);
        for (const e of events) assert.equal(await f.appliedCount(e.id), 1, `event ${e.payload.i}`);
        // In the rolled-back batch: events 0-2 ran; then each on its own.
        assert.deepEqual(events.map((e) => runs.get(e.id)), [2, 2, 2, 1, 1]);
      } finally {
        await consumer.stop();
      }
      assert.equal(await f.committedOffset(), String(events.length));
      assert.equal(await f.deadLetterCount(), 0);
    });
  },
);

Deno.test(
  "a batch with a redelivered event id applies it once and counts the duplicates",
  kafkaTest,
  async () => {
    await withFixture(async (f) => {
      const [a, b, c0] = Array.from({ length: 3 }, () => envelope("StockDeductionRequested"));
      const old = envelope("StockDeductionRequested");
      // `old` was handled before (its claim committed); `a` comes twice in the batch.
      await f.sql.begin((tx) => claimInbox(tx, f.consumerName, old.id));
      for (const e of [a, old, b, a, c0]) await f.publish(e);
      const consumer = await start(f, {
        StockDeductionRequested: (tx, e) => f.apply(tx, e.id),
      });
      try {
        const c = consumer.counters;
        await until(c, "every delivery", () => c.handled + c.duplicates === 5);
        assert.equal(c.handled, 3);
        assert.equal(c.duplicates, 2);
        assert.equal(c.batches, 1);
        for (const e of [a, b, c0]) assert.equal(await f.appliedCount(e.id), 1);
        assert.equal(await f.appliedCount(old.id), 0);
        assert.equal(await f.appliedTransactions(), 1);
      } finally {
        await consumer.stop();
      }
      assert.equal(await f.committedOffset(), "5");
    });
  },
);

Deno.test(
  "a batch with an event its handler rejects dead-letters that one and applies the others once",
  kafkaTest,
  async () => {
    await withFixture(async (f) => {
      const events = Array.from(
        { length: 5 },
        (_, i) => envelope("StockDeductionRequested", { i, poison: i === 2 }),
      );
      for (const e of events) await f.publish(e);
      let poisonRuns = 0;
      const consumer = await start(f, {
        StockDeductionRequested: async (tx, e) => {
          await f.apply(tx, e.id);
          if (e.payload.poison) {
            poisonRuns++;
            throw new PoisonMessageError("quantity must be a number");
          }
        },
      });
      try {
        const c = consumer.counters;
        await until(
          c,
          "the others and the dead letter",
          () => c.handled === 4 && c.deadLettered === 1,
        );
        assert.equal(c.batchFallbacks, 1);
        assert.equal(c.poison, 1);
        assert.equal(c.retried, 0);
        assert.equal(poisonRuns, 2, "once in the batch, once on its own");
        for (const e of events) {
          assert.equal(
            await f.appliedCount(e.id),
            e.payload.poison ? 0 : 1,
            `event ${e.payload.i}`,
          );
        }
        const [letter] = await f.deadLetters(1);
        assert.equal(letter.headers[H.reason], "rejected");
        assert.equal(letter.headers[H.eventId], events[2].id);
        assert.equal(letter.headers[H.attempts], "1");
      } finally {
        await consumer.stop();
      }
      assert.equal(await f.committedOffset(), String(events.length));
      assert.equal(await f.deadLetterCount(), 1);
    });
  },
);

const OWN_TRACE_TEST = "each handler of a batch runs in its own message's trace";

Deno.test(
  { name: OWN_TRACE_TEST, ...kafkaTest },
  async () => {
    if (Deno.env.get("OTEL_DENO") !== "true") {
      // Context propagation needs Deno's telemetry, which is set at start-up:
      // this test runs again in a child process that has it on.
      const child = await new Deno.Command(Deno.execPath(), {
        args: [
          "test",
          "-A",
          "--no-check",
          "--reporter=dot",
          `--filter=${OWN_TRACE_TEST}`,
          new URL(import.meta.url).pathname,
        ],
        env: { OTEL_DENO: "true", OTEL_SERVICE_NAME: "kit-consumer-test" },
      }).output();
      const out = new TextDecoder().decode(child.stdout) + new TextDecoder().decode(child.stderr);
      assert.equal(child.code, 0, out);
      assert.match(out, /\b1 passed\b/, out);
      return;
    }
    await withFixture(async (f) => {
      const traceIds = [
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "5ce92f3577b34da6a3ce929d0e0e4737",
        "6de92f3577b34da6a3ce929d0e0e4738",
      ];
      const events = traceIds.map((t) => envelope("StockDeductionRequested", { t }));
      for (const [i, e] of events.entries()) {
        await f.publish(e, { traceparent: `00-${traceIds[i]}-00f067aa0ba902b7-01` });
      }
      const seen = new Map<string, string | undefined>();
      const consumer = await start(f, {
        StockDeductionRequested: async (tx, e) => {
          seen.set(String(e.payload.t), trace.getActiveSpan()?.spanContext().traceId);
          await f.apply(tx, e.id);
        },
      });
      try {
        const c = consumer.counters;
        await until(c, "every event", () => c.handled === events.length);
        assert.equal(c.batches, 1);
        for (const t of traceIds) assert.equal(seen.get(t), t);
      } finally {
        await consumer.stop();
      }
    });
  },
);
