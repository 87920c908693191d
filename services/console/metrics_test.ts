import assert from "node:assert/strict";
import { parsePrometheus, summarize } from "./metrics.ts";

const TEXT = `# HELP kafka_consumer_lag Messages behind
# TYPE kafka_consumer_lag gauge
kafka_consumer_lag{group="order-service",topic="stock-events",partition="0"} 3
kafka_consumer_lag{group="order-service",topic="stock-events",partition="1"} 4
kafka_consumer_lag{group="order-service",topic="point-events",partition="0"} 0
# TYPE circuit_breaker_state gauge
circuit_breaker_state{breaker="coupon-redis"} 2
circuit_breaker_state{breaker="coupon-db"} 0
circuit_breaker_state{breaker="inventory-db"} 1
http_request_duration_seconds_bucket{le="+Inf",route="/x \\"y\\""} 7
garbage line
`;

Deno.test("Prometheus text: names, labels (escaped), values", () => {
  const s = parsePrometheus(TEXT);
  assert.equal(s.length, 7);
  assert.deepEqual(s[0], {
    name: "kafka_consumer_lag",
    labels: { group: "order-service", topic: "stock-events", partition: "0" },
    value: 3,
  });
  assert.equal(s[6].labels.route, '/x "y"');
  assert.equal(s[6].labels.le, "+Inf");
});

Deno.test("the system summary: lag per group and topic, breaker states", () => {
  const sum = summarize({ order: parsePrometheus(TEXT) });
  assert.deepEqual(sum.consumerLag, [
    { process: "order", group: "order-service", topic: "stock-events", lag: 7 },
    { process: "order", group: "order-service", topic: "point-events", lag: 0 },
  ]);
  assert.deepEqual(sum.breakers, [
    { process: "order", name: "coupon-redis", state: "open" },
    { process: "order", name: "coupon-db", state: "closed" },
    { process: "order", name: "inventory-db", state: "half-open" },
  ]);
  assert.deepEqual(sum.brokers, []);
});

Deno.test("the system summary: admission state of each order instance", () => {
  const order = parsePrometheus(`orders_admission_in_flight 120
orders_admission_limit 100
orders_admission_completion_rate 40.5
orders_admission_estimated_wait_seconds 2.96
orders_admitted_total 900
orders_refused_total{reason="overloaded"} 31
orders_refused_total{reason="user_limit"} 2
`);
  const sum = summarize({ order, inventory: parsePrometheus(TEXT) });
  assert.deepEqual(sum.admission, [{
    process: "order",
    state: "refusing",
    inFlight: 120,
    limit: 100,
    completionRatePerS: 40.5,
    estimatedWaitSeconds: 2.96,
    admitted: 900,
    refusedOverloaded: 31,
    refusedUserLimit: 2,
  }]);
});
