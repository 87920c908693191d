/**
 * The bug the chaos run found in the relay: a broker SIGKILL can make a
 * Kafka commit fail on the client (`Request EndTxn … timed out`) after the
 * coordinator took it — the transaction is committed. The relay used to send
 * the batch again, so a read_committed reader saw those events twice. Now a
 * failed commit is checked against the committed checkpoint before the batch
 * is sent again. Here the commit is made to succeed and then report a
 * failure, deterministically, a few times; every event must still be in
 * Kafka exactly once, in key order.
 */
import { TransactionalProducer } from "../../kafka/mod.ts";
import { createLogger } from "../../kit/log.ts";
import { loadRelayConfig } from "../../outbox-relay/config.ts";
import { Relay } from "../../outbox-relay/relay.ts";
import { assertExactlyOnceInOrder, TestOutbox, writeEvents } from "../support/relay.ts";

Deno.test({
  name: "a Kafka commit that succeeded but reported a failure is not published again",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const outbox = await new TestOutbox().create(4);
    const env = {
      RELAY_SLOT: outbox.slot,
      RELAY_PUBLICATION: outbox.publication,
      RELAY_INSTANCE_ID: `commit-outcome-${Deno.pid}`,
      RELAY_HTTP_PORT: "0",
      RELAY_HEARTBEAT_MS: "500",
      RELAY_CLEANUP_INTERVAL_MS: "2147483647",
    };
    for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
    // Every transaction of the relay (whichever of its producers sends it)
    // goes through TransactionalProducer.transaction.
    const transaction = TransactionalProducer.prototype.transaction;
    let lied = 0;
    TransactionalProducer.prototype.transaction = async function (work) {
      let ours = false;
      await transaction.call(this, (tx) =>
        work({
          ...tx,
          send: (batches) => {
            ours ||= batches.some((b) => b.topic === outbox.topic);
            return tx.send(batches);
          },
        }));
      if (lied < 3 && ours) {
        lied++;
        throw new Error("Request EndTxn(key: 26, version: 1) timed out");
      }
    };
    const relay = new Relay(loadRelayConfig(), createLogger("relay-commit-outcome"));
    const running = relay.run();
    try {
      await writeEvents(outbox, { total: 400, writers: 2, maxRows: 5, paceMs: 20 });
      await assertExactlyOnceInOrder(outbox, 60_000);
      if (lied < 3) throw new Error(`only ${lied} commits reported a failure`);
    } finally {
      relay.stop();
      await running.catch(() => {});
      TransactionalProducer.prototype.transaction = transaction;
      for (const k of Object.keys(env)) Deno.env.delete(k);
      await outbox.drop();
    }
  },
});
