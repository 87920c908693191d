/**
 * Prometheus metrics every process exports (issue #8, SPEC §8), on
 * prom-client. One registry per process: prom-client's default one, so a
 * metric any module makes without naming a registry is exported too.
 * `GET /metrics` of every kit app (kit/http/app.ts) serves it, with the
 * process's own extra registries (the relay's) appended.
 *
 * What is here, for every process:
 * - `http_request_duration_seconds{method,route,status}`: the HTTP API.
 * - `consumer_events_total{consumer,group,outcome}`: what the inbox consumer
 *   did with each message — handled, duplicate, skipped, retried,
 *   dead_lettered, poison (kit/consumer.ts' counters).
 * - `consumer_batch_transactions_total{consumer,group,result}`: runs of
 *   messages handled in one transaction — committed, or rolled_back (then
 *   handled one by one).
 * - `consumer_event_latency_seconds{consumer,topic}`: publish → processed (the
 *   envelope's occurredAt, i.e. the outbox write, to the inbox commit).
 * - `kafka_consumer_lag{group,topic,partition}`: end offset − committed offset,
 *   sampled every CONSUMER_LAG_INTERVAL_MS (30 s, SPEC §8).
 * - `circuit_breaker_state{breaker}` (0 closed, 1 half-open, 2 open),
 *   `circuit_breaker_calls_total{breaker,result}`, `circuit_breaker_opened_total`.
 * - `coupon_issue_requests_total{result}`: coupon issue decisions (issued,
 *   sold_out, …), counted by the coupon service through {@link countCouponIssue}.
 * - prom-client's process metrics (`process_cpu_seconds_total`,
 *   `process_resident_memory_bytes`, event-loop lag …), on the first scrape.
 *
 * @module
 */
import client from "prom-client";
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { KafkaJs } from "../kafka/mod.ts";
import { breakerSnapshots, type BreakerState } from "./breaker.ts";
import type { ConsumerCounters } from "./consumer.ts";
import type { Logger } from "./log.ts";
import { trace } from "./tracing.ts";

export { client };
export type Registry = client.Registry;

/** The process's registry. */
export const registry: client.Registry = client.register;

let defaultsOn = false;

/** The exposition text of the process registry plus `extra` ones, and its content type. */
export async function metricsText(
  extra: readonly client.Registry[] = [],
): Promise<{ contentType: string; body: string }> {
  if (!defaultsOn) {
    // Lazily: its event-loop monitor must not start in every unit test that builds an app.
    defaultsOn = true;
    client.collectDefaultMetrics({ register: registry });
  }
  const parts = await Promise.all([registry, ...extra].map((r) => r.metrics()));
  return { contentType: registry.contentType, body: parts.join("\n") };
}

// ---------------------------------------------------------------- HTTP

const httpDuration = new client.Histogram({
  name: "http_request_duration_seconds",
  help: "HTTP requests served, by method, route and status",
  labelNames: ["method", "route", "status"] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

/**
 * Times every request (`http_request_duration_seconds`) by its route pattern
 * (`/orders/:id`, never the raw path), and names Deno's server span after it
 * (`POST /orders`). `/metrics` itself is not counted.
 */
export function httpMetrics(): MiddlewareHandler {
  return async function httpMetrics(c, next) {
    if (c.req.path === "/metrics") return await next();
    const started = performance.now();
    let status = 500;
    try {
      await next();
      status = c.res.status;
    } finally {
      let route = routePath(c, -1);
      if (route === "*" || route === "/*") route = "unmatched";
      httpDuration.observe(
        { method: c.req.method, route, status: String(status) },
        (performance.now() - started) / 1000,
      );
      const span = trace.getActiveSpan();
      if (span && route !== "unmatched") {
        span.updateName(`${c.req.method} ${route}`);
        span.setAttribute("http.route", route);
      }
    }
  };
}

// ---------------------------------------------------------------- consumers

const consumers = new Map<string, { group: string; counters: Readonly<ConsumerCounters> }>();

const OUTCOMES: [keyof ConsumerCounters, string][] = [
  ["handled", "handled"],
  ["duplicates", "duplicate"],
  ["skipped", "skipped"],
  ["retried", "retried"],
  ["deadLettered", "dead_lettered"],
  ["poison", "poison"],
  ["breakerPauses", "breaker_paused"], // waits while its circuit breaker was open (SPEC §9.1)
];

new client.Counter({
  name: "consumer_events_total",
  help: "Messages of the inbox consumers by outcome: handled, duplicate (already in the inbox), " +
    "skipped (no handler), retried (failed attempts), dead_lettered, poison (of the dead-lettered)",
  labelNames: ["consumer", "group", "outcome"] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const [consumer, { group, counters }] of consumers) {
      for (const [field, outcome] of OUTCOMES) {
        this.inc({ consumer, group, outcome }, counters[field]);
      }
    }
  },
});

new client.Counter({
  name: "consumer_batch_transactions_total",
  help: "Runs of messages the inbox consumers handled in one transaction: committed, or " +
    "rolled_back (a handler failed, a deadlock, the database gone: then handled one by one)",
  labelNames: ["consumer", "group", "result"] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const [consumer, { group, counters }] of consumers) {
      this.inc({ consumer, group, result: "committed" }, counters.batches);
      this.inc({ consumer, group, result: "rolled_back" }, counters.batchFallbacks);
    }
  },
});

const eventLatency = new client.Histogram({
  name: "consumer_event_latency_seconds",
  help: "From the event's outbox write (envelope occurredAt) to its handling committed",
  labelNames: ["consumer", "topic"] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

/** Exports a running consumer's counters under its name (kit/consumer.ts calls it). */
export function registerConsumer(
  consumer: string,
  group: string,
  counters: Readonly<ConsumerCounters>,
): () => void {
  consumers.set(consumer, { group, counters });
  return () => {
    if (consumers.get(consumer)?.counters === counters) consumers.delete(consumer);
  };
}

/** Records publish → processed for one handled event. */
export function observeEventLatency(
  consumer: string,
  topic: string,
  occurredAt: string,
  now = Date.now(),
): void {
  const at = Date.parse(occurredAt);
  if (Number.isFinite(at)) eventLatency.observe({ consumer, topic }, Math.max(0, now - at) / 1000);
}

const lag = new client.Gauge({
  name: "kafka_consumer_lag",
  help: "Messages behind: the partition's end offset minus the group's committed offset",
  labelNames: ["group", "topic", "partition"] as const,
  registers: [registry],
});

/** How often consumer lag is sampled (SPEC §8: every 30 s); CONSUMER_LAG_INTERVAL_MS. */
export function lagIntervalMs(): number {
  const v = Number(Deno.env.get("CONSUMER_LAG_INTERVAL_MS") ?? "");
  return Number.isFinite(v) && v >= 100 ? v : 30_000;
}

/**
 * Samples `group`'s lag on `topics` now and then every `intervalMs` into
 * `kafka_consumer_lag`, until the returned function is called. A partition
 * the group has not committed on counts from its start (the low watermark).
 */
export function watchConsumerLag(
  kafka: KafkaJs,
  group: string,
  topics: readonly string[],
  opts: { intervalMs?: number; log?: Logger; firstAfterMs?: number } = {},
): () => Promise<void> {
  const intervalMs = opts.intervalMs ?? lagIntervalMs();
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> = Promise.resolve();
  let warned = false;
  const sample = async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const committed = await admin.fetchOffsets({ groupId: group, topics: [...topics] });
      for (const { topic, partitions } of committed) {
        const ends = await admin.fetchTopicOffsets(topic);
        const mine = new Map(partitions.map((p) => [p.partition, Number(p.offset)]));
        for (const e of ends) {
          const at = mine.get(e.partition);
          const start = at === undefined || at < 0 ? Number(e.low) : at;
          lag.set(
            { group, topic, partition: String(e.partition) },
            Math.max(0, Number(e.high) - start),
          );
        }
      }
      warned = false;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  };
  const loop = () => {
    if (stopped) return;
    running = sample().catch((err) => {
      if (!warned) opts.log?.warn("consumer lag sampling failed", { group, error: err as Error });
      warned = true;
    }).finally(() => {
      if (!stopped) timer = setTimeout(loop, intervalMs);
    });
  };
  timer = setTimeout(loop, opts.firstAfterMs ?? Math.min(intervalMs, 2_000));
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}

// ---------------------------------------------------------------- breakers

const STATE_VALUE: Record<BreakerState, number> = { closed: 0, "half-open": 1, open: 2 };

new client.Gauge({
  name: "circuit_breaker_state",
  help: "Circuit breaker state: 0 closed, 1 half-open, 2 open (SPEC §9.1)",
  labelNames: ["breaker"] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const b of breakerSnapshots()) this.set({ breaker: b.name }, STATE_VALUE[b.state]);
  },
});

new client.Counter({
  name: "circuit_breaker_calls_total",
  help: "Calls through a circuit breaker by result: success, failure, timeout, rejected (open)",
  labelNames: ["breaker", "result"] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const b of breakerSnapshots()) {
      this.inc({ breaker: b.name, result: "success" }, b.successes);
      this.inc({ breaker: b.name, result: "failure" }, b.failures);
      this.inc({ breaker: b.name, result: "timeout" }, b.timeouts);
      this.inc({ breaker: b.name, result: "rejected" }, b.rejects);
    }
  },
});

new client.Counter({
  name: "circuit_breaker_opened_total",
  help: "Times a circuit breaker opened",
  labelNames: ["breaker"] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const b of breakerSnapshots()) this.inc({ breaker: b.name }, b.opened);
  },
});

// ---------------------------------------------------------------- coupons

const couponIssues = new client.Counter({
  name: "coupon_issue_requests_total",
  help: "First-come-first-served coupon issue requests by result (SPEC §5): issued, sold_out, " +
    "already_issued, not_started, ended, unknown_campaign, unavailable",
  labelNames: ["result"] as const,
  registers: [registry],
});

/**
 * Counts one coupon issue decision (`coupon_issue_requests_total{result}`):
 * the coupon service calls it with its issuer's answer (`issued`,
 * `sold_out`, …). `sum(rate(…{result="issued"}))` is coupons issued per second.
 */
export function countCouponIssue(result: string): void {
  couponIssues.inc({ result });
}
