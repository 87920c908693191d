/**
 * kit/metrics.ts: what `GET /metrics` of every kit app exports — HTTP
 * durations by route, the inbox consumer's outcomes and publish → processed
 * latency, consumer lag from the real cluster, breaker states. Real Kafka
 * and Postgres where a consumer is involved.
 */
import assert from "node:assert/strict";
import { eventually } from "../tests/support/dev.ts";
import { createBreaker } from "./breaker.ts";
import { startConsumer } from "./consumer.ts";
import { createApp } from "./http/app.ts";
import { client, metricsText, watchConsumerLag } from "./metrics.ts";
import { ConsumerFixture, envelope } from "./testing.ts";

const kafkaTest = { sanitizeOps: false, sanitizeResources: false };

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}) {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) return Number(line.split(" ").at(-1));
  }
  return undefined;
}

Deno.test({
  name: "GET /metrics of a kit app: request durations by route pattern, in Prometheus text",
  // prom-client's process metrics start an event-loop monitor on the first scrape.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const app = createApp({ service: "metrics-test" });
    app.get("/things/:id", (c) => c.json({ id: c.req.param("id") }));
    app.get("/boom", () => {
      throw new Error("boom");
    });
    for (const id of ["a", "b", "c"]) {
      assert.equal((await app.request(`/things/${id}`)).status, 200);
    }
    assert.equal((await app.request("/boom")).status, 500);
    assert.equal((await app.request("/nowhere")).status, 404);

    const res = await app.request("/metrics");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const count = (route: string, status: string) =>
      sample(text, "http_request_duration_seconds_count", { method: "GET", route, status });
    assert.equal(count("/things/:id", "200"), 3, "one series for the route, not per id");
    assert.equal(count("/boom", "500"), 1);
    assert.equal(count("unmatched", "404"), 1);
    assert.ok(!text.includes('route="/metrics"'), "scrapes are not counted");
    // prom-client's process metrics come along (SPEC §8.2: CPU, memory).
    assert.ok(sample(text, "process_cpu_seconds_total")! >= 0);
    assert.ok(sample(text, "process_resident_memory_bytes")! > 0);
  },
});

Deno.test("circuit breakers export their state: 0 closed, 2 open", async () => {
  const name = `metrics-test-${crypto.randomUUID().slice(0, 6)}`;
  const b = createBreaker(
    name,
    (ok: boolean) => ok ? Promise.resolve(1) : Promise.reject(new Error("down")),
    {
      failureRatePercent: 50,
      openMs: 60_000,
      windowSeconds: 10,
      minimumCalls: 2,
    },
  );
  try {
    assert.equal(sample((await metricsText()).body, "circuit_breaker_state", { breaker: name }), 0);
    await b.fire(false).catch(() => {});
    await b.fire(false).catch(() => {});
    await b.fire(true).catch(() => {});
    const text = (await metricsText()).body;
    assert.equal(sample(text, "circuit_breaker_state", { breaker: name }), 2);
    assert.equal(sample(text, "circuit_breaker_opened_total", { breaker: name }), 1);
    assert.equal(
      sample(text, "circuit_breaker_calls_total", { breaker: name, result: "failure" }),
      2,
    );
    assert.equal(
      sample(text, "circuit_breaker_calls_total", { breaker: name, result: "rejected" }),
      1,
    );
  } finally {
    b.shutdown();
  }
});

Deno.test({
  name: "the inbox consumer's outcomes, publish → processed latency and lag, per group",
  ...kafkaTest,
  fn: async () => {
    const f = await new ConsumerFixture().create(2);
    const consumer = await startConsumer({
      kafka: f.kafka,
      sql: f.sql,
      groupId: f.groupId,
      topics: [f.topic],
      consumerName: f.consumerName,
      log: f.log,
      retry: { attempts: 2, delayMs: 10 },
      handlers: {
        Good: (tx, e) => f.apply(tx, e.id),
        Bad: () => Promise.reject(new Error("always fails")),
      },
    });
    let stopLag: (() => Promise<void>) | undefined;
    try {
      const good = [envelope("Good"), envelope("Good")];
      for (const e of good) await f.publish(e);
      await f.publish(good[0]); // a redelivery: a duplicate
      await f.publish(envelope("Skipped"));
      await f.publish(envelope("Bad"));
      const mine = { consumer: f.consumerName, group: f.groupId };
      const text = await eventually(
        "the consumer's outcomes on /metrics",
        async () => {
          const t = (await metricsText()).body;
          return sample(t, "consumer_events_total", { ...mine, outcome: "dead_lettered" }) === 1
            ? t
            : undefined;
        },
        30_000,
        100,
      );
      const outcome = (o: string) => sample(text, "consumer_events_total", { ...mine, outcome: o });
      assert.equal(outcome("handled"), 2);
      assert.equal(outcome("duplicate"), 1);
      assert.equal(outcome("skipped"), 1);
      assert.equal(outcome("retried"), 1);
      assert.equal(outcome("poison"), 0);
      // Batch transactions as the consumer counted them (how many depends on
      // how Kafka split the five records into fetches).
      const batches = (r: string) =>
        sample(text, "consumer_batch_transactions_total", { ...mine, result: r });
      assert.equal(batches("committed"), consumer.counters.batches);
      assert.equal(batches("rolled_back"), consumer.counters.batchFallbacks);
      const latency = {
        consumer: f.consumerName,
        topic: f.topic,
      };
      assert.equal(sample(text, "consumer_event_latency_seconds_count", latency), 2);
      const sum = sample(text, "consumer_event_latency_seconds_sum", latency)!;
      assert.ok(sum >= 0 && sum < 60, `latency sum ${sum} s`);

      // Lag: 5 records on partition 0, all consumed and committed → 0 behind;
      // partition 1 is empty → 0. Then a group that never read the topic is
      // behind by every record.
      await consumer.stop();
      const lagged = `${f.groupId}-never`;
      stopLag = watchConsumerLag(f.kafka, lagged, [f.topic], { intervalMs: 200, firstAfterMs: 0 });
      const stopLag2 = watchConsumerLag(f.kafka, f.groupId, [f.topic], {
        intervalMs: 200,
        firstAfterMs: 0,
      });
      try {
        const lagText = await eventually(
          "lag samples",
          async () => {
            const t = (await metricsText()).body;
            return sample(t, "kafka_consumer_lag", { group: lagged, partition: "0" }) !==
                  undefined &&
                sample(t, "kafka_consumer_lag", { group: f.groupId, partition: "0" }) !== undefined
              ? t
              : undefined;
          },
          20_000,
          100,
        );
        const lag = (group: string, partition: string) =>
          sample(lagText, "kafka_consumer_lag", { group, topic: f.topic, partition });
        assert.equal(lag(lagged, "0"), 5);
        assert.equal(lag(lagged, "1"), 0);
        assert.equal(lag(f.groupId, "0"), 0);
      } finally {
        await stopLag2();
      }
    } finally {
      await stopLag?.();
      await consumer.stop();
      await f.drop();
    }
    // A stopped consumer is no longer exported.
    assert.equal(
      sample((await metricsText()).body, "consumer_events_total", { consumer: f.consumerName }),
      undefined,
    );
  },
});

Deno.test("the registry is prom-client's default: metrics made anywhere in the process are served", async () => {
  const name = `metrics_test_${crypto.randomUUID().slice(0, 6)}_total`;
  const c = new client.Counter({ name, help: "a test counter" });
  try {
    c.inc(3);
    const extra = new client.Registry();
    new client.Gauge({ name: `${name}_extra`, help: "from another registry", registers: [extra] })
      .set(7);
    const text = (await metricsText([extra])).body;
    assert.equal(sample(text, name), 3);
    assert.equal(sample(text, `${name}_extra`), 7);
  } finally {
    client.register.removeSingleMetric(name);
  }
});
