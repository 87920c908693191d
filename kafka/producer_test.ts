import assert from "node:assert/strict";
import { infraConfig } from "../kit/env.ts";
import {
  createKafka,
  ProducerClosedError,
  RELAY_CHECKPOINT_TOPIC,
  TransactionalProducer,
} from "./mod.ts";

Deno.test({
  name: "a closed TransactionalProducer never connects again, so it cannot fence the new holder",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const kafka = createKafka({
      brokers: infraConfig().kafkaBrokers,
      clientId: "producer-test",
      logLevel: "nothing",
    });
    const transactionalId = `closed-producer-${crypto.randomUUID()}`;
    // A compacted topic whose readers look only at their own keys.
    const topic = RELAY_CHECKPOINT_TOPIC;
    const old = new TransactionalProducer(kafka, { transactionalId });
    const current = new TransactionalProducer(kafka, { transactionalId });
    try {
      await old.commit([{ topic, messages: [{ key: transactionalId, value: "old" }] }]);
      await old.close();
      assert.equal(old.connected, false);
      await current.commit([{ topic, messages: [{ key: transactionalId, value: "current" }] }]);
      await assert.rejects(
        old.commit([{ topic, messages: [{ key: transactionalId, value: "zombie" }] }]),
        ProducerClosedError,
      );
      // Had the old one registered again, this would be fenced.
      await current.commit([{ topic, messages: [{ key: transactionalId, value: "still" }] }]);
    } finally {
      await current.close();
    }
  },
});
