/**
 * The coupon handlers behind the kit's consumer loop, with real Kafka: a
 * command topic made for the test carries envelopes as the relay writes
 * them; the loop claims the inbox and runs the handler in one transaction.
 */
import assert from "node:assert/strict";
import { eventually } from "../../tests/support/dev.ts";
import { startConsumer } from "../../kit/mod.ts";
import { ConsumerFixture, envelope } from "../../kit/testing.ts";
import { handlers } from "./handlers/mod.ts";
import { couponFixture } from "./testing.ts";

const kafkaTest = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "the consumer uses a coupon once per event, skips other types, dead-letters a bad payload, restores",
  kafkaTest,
  async () => {
    await using f = await couponFixture();
    const k = await new ConsumerFixture().create();
    try {
      const userId = f.userId();
      const couponId = await f.coupon(userId);
      const orderId = f.orderId();
      const usage = envelope("CouponUsageRequested", { orderId, userId, couponId });
      await k.publish(usage);
      await k.publish(usage); // redelivered
      await k.publish(envelope("CouponUsed", { orderId })); // a reply: not for us
      await k.publish(envelope("CouponUsageRequested", { orderId })); // poison
      const consumer = await startConsumer({
        kafka: k.kafka,
        sql: f.sql,
        groupId: k.groupId,
        topics: [k.topic],
        consumerName: f.consumer,
        handlers,
        log: k.log,
        retry: { attempts: 2, delayMs: 50 },
        maxWaitTimeMs: 100,
      });
      try {
        const c = consumer.counters;
        await eventually(
          "four records",
          () =>
            Promise.resolve(
              c.handled + c.duplicates + c.skipped + c.deadLettered === 4 ? true : undefined,
            ),
        );
        assert.deepEqual(
          { handled: c.handled, duplicates: c.duplicates, skipped: c.skipped, poison: c.poison },
          { handled: 1, duplicates: 1, skipped: 1, poison: 1 },
        );
        assert.equal((await f.find(couponId))?.usedByOrder, orderId);

        await k.publish(envelope("CouponRestoreRequested", { orderId, couponId }));
        await eventually("the restore", () => Promise.resolve(c.handled === 2 ? true : undefined));
        assert.equal((await f.find(couponId))?.status, "AVAILABLE");
        assert.deepEqual((await f.sent(orderId)).map((e) => e.eventType), [
          "CouponUsed",
          "CouponRestored",
        ]);
      } finally {
        await consumer.stop();
      }
      const [letter] = await k.deadLetters(1);
      assert.equal(letter.headers["dlq-reason"], "rejected");
      assert.equal(letter.headers["error-class"], "InvalidPayloadError");
    } finally {
      await k.drop();
    }
  },
);
