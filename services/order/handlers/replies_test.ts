/**
 * The reply handler under the real inbox consumer (real Kafka, real
 * Postgres): what a saga's end does outside the database — its metrics —
 * happens once, also when the consumer's batch transaction rolls back and
 * its messages are handled again one by one (issue 15, item 7).
 */
import assert from "node:assert/strict";
import { inTransaction } from "../../../db/after_commit.ts";
import { connectService } from "../../../db/mod.ts";
import { startConsumer } from "../../../kit/consumer.ts";
import { registry } from "../../../kit/metrics.ts";
import { ConsumerFixture, envelope } from "../../../kit/testing.ts";
import { eventually } from "../../../tests/support/dev.ts";
import { StockEvents } from "../../inventory/events.ts";
import { placeOrder } from "../saga_runner.ts";
import { findOrder } from "../store.ts";
import { handleReply, REPLIES } from "./replies.ts";

/** The summed value of a metric's series whose name (histograms: `_count`) is `name`. */
async function metricValue(metric: string, name = metric): Promise<number> {
  const values = (await registry.getSingleMetric(metric)?.get())?.values ?? [];
  // A histogram's values carry the name of their series (`…_count`, `…_bucket`).
  return values.filter((v) => ((v as { metricName?: string }).metricName ?? metric) === name)
    .reduce((sum, v) => sum + v.value, 0);
}

Deno.test(
  "an order finished in a batch that rolls back and is replayed one by one is counted once",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const f = await new ConsumerFixture().create();
    const sql = connectService("order_service", { max: 3 });
    const orderId = crypto.randomUUID();
    try {
      await inTransaction(sql, (tx) =>
        placeOrder(tx, {
          orderId,
          userId: `replies-test-${orderId.slice(0, 8)}`,
          items: [{ productId: "p-1", quantity: 1 }],
          couponId: null,
          points: 0,
          idempotencyKey: null,
          mode: "parallel",
          deadlineMs: 60_000,
        }));
      const completed = await metricValue("orders_completed_total");
      const timed = await metricValue(
        "orders_processing_time_seconds",
        "orders_processing_time_seconds_count",
      );
      // One fetch: the reply that completes the order, then one that breaks
      // the contract, so the batch transaction rolls back after the order
      // completed in it; the one-by-one replay completes it again.
      await f.publish(envelope(StockEvents.Deducted, { orderId, line: 1 }));
      await f.publish(envelope(StockEvents.Deducted, { orderId: "not-a-uuid", line: 1 }));
      const consumer = await startConsumer({
        kafka: f.kafka,
        sql,
        log: f.log,
        groupId: f.groupId,
        topics: [f.topic],
        consumerName: f.consumerName,
        handlers: Object.fromEntries(Object.keys(REPLIES).map((type) => [type, handleReply])),
        retry: { attempts: 1, delayMs: 0 },
        maxWaitTimeMs: 100,
        fromBeginning: true,
      });
      try {
        const c = consumer.counters;
        await eventually(
          "the reply handled and the poison dead-lettered",
          () => Promise.resolve(c.handled === 1 && c.deadLettered === 1 ? true : undefined),
        );
        assert.equal(c.batchFallbacks, 1, "the two replies were tried in one batch first");
        assert.equal((await findOrder(sql, orderId))?.status, "COMPLETED");
        assert.equal(await metricValue("orders_completed_total") - completed, 1);
        assert.equal(
          await metricValue(
            "orders_processing_time_seconds",
            "orders_processing_time_seconds_count",
          ) - timed,
          1,
        );
      } finally {
        await consumer.stop();
      }
    } finally {
      await sql`delete from inbox where consumer = ${f.consumerName}`;
      await sql.end();
      await f.drop();
    }
  },
);
