/**
 * Issue 15, item 1, through the real API and processes: 40 customers at
 * once each order 50 lines of one product — before the fix 2,000 stock
 * requests keyed by one product, one partition's share of one relay batch
 * over the brokers' `message.max.bytes`, and every saga stopped. Every event
 * of those sagas reaches Kafka exactly once (read_committed), every saga
 * ends, and orders placed afterwards still flow.
 *
 * Starts the suite's processes: run under `flock /tmp/e2e.lock`.
 */
import assert from "node:assert/strict";
import { connectAdmin } from "../../db/mod.ts";
import { Admin, Consumer, type IncomingMessage } from "../../kafka/mod.ts";
import { COMPENSATION_TOPIC, STOCK_TOPIC } from "../../services/inventory/events.ts";
import { ORDER_TOPIC } from "../../services/order/events.ts";
import { eventually, sleep, uniqueName } from "../support/dev.ts";
import { testKafka } from "../support/kafka.ts";
import { Client, type OrderView, settled, Suite } from "../support/suite.ts";

const ORDERS = 40;
const LINES = 50;
const TOPICS = [ORDER_TOPIC, STOCK_TOPIC, COMPENSATION_TOPIC];

/**
 * A read_committed reader of `topics` that sees only what is written after
 * it was made: its fresh group's offsets are set to today's ends first, so
 * it does not read the topics' whole history.
 */
async function readFromNow(kafka: ReturnType<typeof testKafka>, topics: string[]) {
  const groupId = uniqueName("many-lines");
  const admin = new Admin(kafka);
  const raw = kafka.admin();
  await Promise.all([admin.connect(), raw.connect()]);
  try {
    for (const topic of topics) {
      const ends = await admin.endOffsets(topic);
      await raw.setOffsets({
        groupId,
        topic,
        partitions: [...ends].map(([partition, end]) => ({ partition, offset: String(end) })),
      });
    }
  } finally {
    await Promise.all([admin.disconnect(), raw.disconnect()]);
  }
  const messages: IncomingMessage[] = [];
  const consumer = new Consumer(kafka, { groupId, topics });
  await consumer.run((m) => {
    messages.push(m);
    return Promise.resolve();
  });
  return { messages, stop: () => consumer.disconnect() };
}

Deno.test({
  name: "40 concurrent orders of 50 lines of one product reach Kafka exactly once and all end",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const kafka = testKafka("many-lines-test");
    const db = connectAdmin({ max: 2 });
    const reader = await readFromNow(kafka, TOPICS);
    const suite = await new Suite().start();
    const admin = Client.admin();
    const run = crypto.randomUUID().slice(0, 8);
    try {
      // Stock for half the orders: 20 complete, 20 are refused and cancelled.
      const product = `many-lines-${run}`;
      const stock = (ORDERS / 2) * LINES;
      const made = await admin.call(suite.inventory, "POST", "/products", {
        id: product,
        name: "many lines",
        price: 100,
        stock,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));

      const items = Array.from({ length: LINES }, () => ({ productId: product, quantity: 1 }));
      const placed = await Promise.all(
        Array.from({ length: ORDERS }, async (_, i) => {
          const c = new Client(`many-lines-${run}-${i}`);
          const res = await c.call<OrderView>(suite.orders[i % 2], "POST", "/orders", { items });
          assert.equal(res.status, 202, JSON.stringify(res.body));
          return { client: c, orderId: res.body.orderId };
        }),
      );

      const ends = await Promise.all(
        placed.map(({ client, orderId }) => settled(client, suite.orders[0], orderId, 120_000)),
      );
      const statuses = ends.map((o) => o.status);
      assert.equal(statuses.filter((s) => s === "COMPLETED").length, ORDERS / 2, `${statuses}`);
      assert.equal(statuses.filter((s) => s === "CANCELLED").length, ORDERS / 2, `${statuses}`);

      // Orders placed after the burst still flow.
      const later = new Client(`many-lines-${run}-later`);
      const more = await admin.call(suite.inventory, "POST", "/products", {
        id: `${product}-later`,
        name: "after the burst",
        price: 100,
        stock: 1,
      });
      assert.equal(more.status, 201, JSON.stringify(more.body));
      const next = await later.call<OrderView>(suite.orders[1], "POST", "/orders", {
        items: [{ productId: `${product}-later`, quantity: 1 }],
      });
      assert.equal(next.status, 202, JSON.stringify(next.body));
      assert.equal((await settled(later, suite.orders[1], next.body.orderId)).status, "COMPLETED");

      // Every event of these sagas, as the outbox tables hold them, is in
      // Kafka exactly once.
      const ids = [...placed.map((p) => p.orderId), next.body.orderId];
      const expected = (await db<{ id: string }[]>`
        select event_id::text as id from orders.outbox where aggregate_id = any(${ids})
        union all
        select event_id::text as id from inventory.outbox where payload->>'orderId' = any(${ids})`)
        .map((r) => r.id);
      // OrderPlaced, its stock request, the reply, OrderCompleted/Cancelled.
      assert.equal(expected.length, 4 * ids.length);
      const wanted = new Set(expected);
      const seen = () => reader.messages.filter((m) => wanted.has(m.headers["event-id"]));
      await eventually(
        `all ${wanted.size} events in Kafka`,
        () =>
          Promise.resolve(
            new Set(seen().map((m) => m.headers["event-id"])).size === wanted.size
              ? true
              : undefined,
          ),
        60_000,
      );
      await sleep(2_000); // a duplicate would have arrived by now
      const counts = new Map<string, number>();
      for (const m of seen()) {
        counts.set(m.headers["event-id"], (counts.get(m.headers["event-id"]) ?? 0) + 1);
      }
      const twice = [...counts].filter(([, n]) => n > 1);
      assert.deepEqual(twice, [], "events in Kafka more than once");
    } catch (err) {
      console.error(suite.logs().slice(-20_000));
      throw err;
    } finally {
      await suite.stop();
      await reader.stop();
      await db.end();
    }
  },
});
