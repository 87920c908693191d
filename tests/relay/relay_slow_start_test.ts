/**
 * Outbox relay, issue 15 item 4: while a starting relay reads its checkpoint
 * it has nothing of its own to confirm, yet Postgres drops a reader that stays
 * silent for wal_sender_timeout (5 s, infra/postgres.sh). A checkpoint read
 * slower than that must not cost the relay its slot.
 */
import assert from "node:assert/strict";
import {
  assertExactlyOnceInOrder,
  RelayProcess,
  TestOutbox,
  writeEvents,
} from "../support/relay.ts";

Deno.test({
  name:
    "a relay whose checkpoint read takes longer than wal_sender_timeout keeps the slot and publishes",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const outbox = await new TestOutbox().create();
    await writeEvents(outbox, { total: 200, writers: 2 });
    const relay = new RelayProcess(outbox, "relay-slow-start", {
      RELAY_TEST_CHECKPOINT_DELAY_MS: "8000",
      LOG_LEVEL: "info",
    }).start();
    try {
      assert.equal(await assertExactlyOnceInOrder(outbox, 45_000), 200);
      assert.doesNotMatch(relay.logs(), /relay session ended/, "the relay kept its first session");
    } finally {
      await relay.stop();
      await outbox.drop();
    }
  },
});
