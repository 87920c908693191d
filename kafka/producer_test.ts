import assert from "node:assert/strict";
import { infraConfig } from "../kit/env.ts";
import { countKafkaRequests } from "./request_counter.ts";
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

Deno.test({
  name:
    "a transaction costs one AddPartitionsToTxn, its produce requests and one EndTxn: the coordinator is looked up once per producer",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const kafka = createKafka({
      brokers: infraConfig().kafkaBrokers,
      clientId: "producer-request-test",
      logLevel: "nothing",
    });
    const producer = new TransactionalProducer(kafka, {
      transactionalId: `request-budget-${crypto.randomUUID()}`,
    });
    const counts = new Map<string, number>();
    const stop = countKafkaRequests((api) => counts.set(api, (counts.get(api) ?? 0) + 1));
    // Keys over many partitions of a 12-partition topic: every broker leads some.
    const messages = Array.from({ length: 40 }, (_, i) => ({ key: `k-${i}`, value: `v-${i}` }));
    try {
      await producer.commit([{ topic: "stock-events", messages }]); // first: init, lookups
      counts.clear();
      const transactions = 10;
      for (let i = 0; i < transactions; i++) {
        await producer.commit([{ topic: "stock-events", messages }]);
      }
      const per = (api: string) => (counts.get(api) ?? 0) / transactions;
      assert.equal(
        per("GroupCoordinator"),
        0,
        `FindCoordinator per transaction: ${per("GroupCoordinator")}`,
      );
      assert.equal(per("EndTxn"), 1);
      assert.equal(per("AddOffsetsToTxn"), 0);
      // One request each, plus a retry now and then while the coordinator
      // finishes the previous transaction's markers (CONCURRENT_TRANSACTIONS).
      assert.ok(
        per("AddPartitionsToTxn") >= 1 && per("AddPartitionsToTxn") < 3,
        JSON.stringify([...counts]),
      );
      assert.ok(per("Produce") <= 3, `Produce per transaction: ${per("Produce")}`);
      const total = [...counts.values()].reduce((a, b) => a + b, 0) / transactions;
      assert.ok(total <= 8, `requests per transaction: ${total} ${JSON.stringify([...counts])}`);
    } finally {
      stop();
      await producer.close();
    }
  },
});
