/**
 * Outbox relay, issue #4: every committed outbox event reaches Kafka exactly
 * once, in commit order per key, while the relay is SIGKILLed again and again,
 * a broker dies, and Postgres restarts.
 */
import assert from "node:assert/strict";
import { dev, sleep } from "../support/dev.ts";
import {
  assertExactlyOnceInOrder,
  RelayProcess,
  TestOutbox,
  writeEvents,
} from "../support/relay.ts";

const chaos = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name:
    "20,000 events from concurrent writers, relay SIGKILLed 10+ times: each exactly once, in key order",
  ...chaos,
  fn: async () => {
    const outbox = await new TestOutbox().create();
    let relay = new RelayProcess(outbox, "relay-kill-0").start();
    let kills = 0;
    let writing = true;
    try {
      const writers = writeEvents(outbox, { total: 20_000, writers: 6, paceMs: 25 }).finally(
        () => (writing = false),
      );
      while (writing || kills < 10) {
        await sleep(300 + Math.random() * 1_500);
        await relay.kill();
        kills++;
        relay = new RelayProcess(outbox, `relay-kill-${kills}`).start();
      }
      await writers;
      const n = await assertExactlyOnceInOrder(outbox);
      assert.equal(n, 20_000);
      assert.ok(kills >= 10, `killed ${kills} times`);
      console.log(`relay SIGKILLed ${kills} times while 20,000 events were written`);
    } finally {
      await relay.stop();
      await outbox.drop();
    }
  },
});

Deno.test({
  name: "a broker SIGKILLed and restarted mid-run: each event exactly once, in key order",
  ...chaos,
  fn: async () => {
    const outbox = await new TestOutbox().create();
    const relay = new RelayProcess(outbox, "relay-broker").start();
    const victim = String(1 + Math.floor(Math.random() * 3));
    try {
      const writers = writeEvents(outbox, { total: 6_000, writers: 4, paceMs: 40 });
      await sleep(2_000);
      await dev("kafka", "kill", victim);
      await sleep(5_000);
      await dev("kafka", "start", victim);
      await writers;
      assert.equal(await assertExactlyOnceInOrder(outbox), 6_000);
    } finally {
      await dev("kafka", "start", victim);
      await relay.stop();
      await outbox.drop();
    }
  },
});

Deno.test({
  name: "Postgres restarted mid-run: each event exactly once, in key order",
  ...chaos,
  fn: async () => {
    const outbox = await new TestOutbox().create();
    const relay = new RelayProcess(outbox, "relay-pg").start();
    try {
      const writers = writeEvents(outbox, { total: 6_000, writers: 4, paceMs: 40 });
      await sleep(2_000);
      await dev("postgres", "restart");
      await outbox.reconnect();
      await writers;
      assert.equal(await assertExactlyOnceInOrder(outbox), 6_000);
    } catch (err) {
      console.log(relay.logs(), await relay.health());
      throw err;
    } finally {
      await relay.stop();
      await outbox.drop();
    }
  },
});
