/**
 * Outbox relay, issue #4: high availability. Two relays started at once share
 * the work safely (one active, one standby); the standby takes over within
 * 10 s of the active one dying; a paused active relay that wakes up after
 * being replaced (a zombie) is fenced and publishes nothing.
 */
import assert from "node:assert/strict";
import { eventually, sleep } from "../support/dev.ts";
import {
  assertExactlyOnceInOrder,
  RelayProcess,
  TestOutbox,
  writeEvents,
} from "../support/relay.ts";

const chaos = { sanitizeOps: false, sanitizeResources: false };

async function states(relays: RelayProcess[]): Promise<string[]> {
  return await Promise.all(relays.map(async (r) => (await r.health())?.state ?? "down"));
}

/** Waits until exactly one of `relays` is active; returns it and how long it took. */
async function oneActive(relays: RelayProcess[], timeoutMs: number) {
  const started = Date.now();
  const active = await eventually(
    "exactly one active relay",
    async () => {
      const s = await states(relays);
      const i = s.indexOf("active");
      return i >= 0 && s.filter((x) => x === "active").length === 1 ? relays[i] : undefined;
    },
    timeoutMs,
    100,
  );
  return { active, ms: Date.now() - started };
}

Deno.test({
  name:
    "two relays at once, the active SIGKILLed, then paused and resumed as a zombie: each event exactly once",
  ...chaos,
  fn: async () => {
    const outbox = await new TestOutbox().create();
    const a = new RelayProcess(outbox, "relay-a");
    const b = new RelayProcess(outbox, "relay-b");
    const c = new RelayProcess(outbox, "relay-c");
    a.start();
    b.start();
    try {
      const writers = writeEvents(outbox, { total: 8_000, writers: 4, paceMs: 50 });

      // Started together: one takes the slot, the other waits.
      const first = await oneActive([a, b], 30_000);
      const standby = first.active === a ? b : a;
      await standby.waitState("standby");

      // The active one dies: the standby takes over within 10 s.
      await sleep(1_000);
      await first.active.kill();
      const takeover1 = await oneActive([standby], 10_000);
      c.start();
      await c.waitState("standby");

      // The new active freezes (SIGSTOP): Postgres drops its silent
      // connection after wal_sender_timeout and the third relay takes over.
      await sleep(1_000);
      const frozenAt = Date.now();
      standby.signal("SIGSTOP");
      await oneActive([c], 10_000);
      const takeover2 = Date.now() - frozenAt;
      // Wake the zombie while the new active publishes: it must be fenced.
      await sleep(1_000);
      standby.signal("SIGCONT");
      await writers;

      assert.equal(await assertExactlyOnceInOrder(outbox), 8_000);
      const [zombieState, cState] = await states([standby, c]);
      assert.equal(cState, "active");
      assert.notEqual(zombieState, "active", "the woken zombie must not be active");
      console.log(
        `takeover after SIGKILL: ${takeover1.ms} ms; after SIGSTOP: ${takeover2} ms; zombie now ${zombieState}`,
      );
    } finally {
      standby_cont([a, b]);
      await Promise.all([a.stop(), b.stop(), c.stop()]);
      await outbox.drop();
    }
  },
});

function standby_cont(relays: RelayProcess[]) {
  for (const r of relays) {
    try {
      r.signal("SIGCONT");
    } catch { /* not running */ }
  }
}
