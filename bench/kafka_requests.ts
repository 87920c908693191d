/**
 * Counts every Kafka request a process sends, by API (`Produce`,
 * `FindCoordinator`, `AddPartitionsToTxn`, …), as the metric
 * `kafka_client_requests_total{api}` on the process's /metrics. bench:relay
 * loads it into the relay with `deno run --preload bench/kafka_requests.ts`
 * and divides by the relay's transactions: `kafka_requests_per_tx` (issue
 * #16). Nothing of the relay changes: every broker connection of kafkajs
 * queues its requests through one RequestQueue class, and this wraps its
 * `push` (retries are pushed again, so they count).
 *
 * @module
 */
import { countKafkaRequests } from "../kafka/request_counter.ts";
import { client, registry } from "../kit/metrics.ts";

const requests = new client.Counter({
  name: "kafka_client_requests_total",
  help: "Kafka requests this process sent, by API (bench/kafka_requests.ts)",
  labelNames: ["api"] as const,
  registers: [registry],
});

countKafkaRequests((api) => requests.inc({ api }));
