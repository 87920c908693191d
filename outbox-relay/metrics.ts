/**
 * The relay's figures (issue #4: events/s, WAL bytes behind, age of the
 * oldest unpublished event), as Prometheus metrics on its own registry.
 *
 * @module
 */
import client from "prom-client";

export class RelayMetrics {
  readonly registry = new client.Registry();
  readonly eventsPublished = new client.Counter({
    name: "relay_events_published_total",
    help: "Outbox events published to Kafka",
    registers: [this.registry],
  });
  readonly publishedByTopic = new client.Counter({
    name: "relay_topic_events_published_total",
    help: "Outbox events published to Kafka, per topic (SPEC §8: per-topic message counts)",
    labelNames: ["topic"],
    registers: [this.registry],
  });
  readonly deadLettered = new client.Counter({
    name: "relay_events_dead_lettered_total",
    help: "Outbox rows sent to the relay dead-letter topic",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly transactions = new client.Counter({
    name: "relay_kafka_transactions_total",
    help: "Kafka transactions committed",
    registers: [this.registry],
  });
  readonly transactionRetries = new client.Counter({
    name: "relay_kafka_transaction_retries_total",
    help: "Kafka transactions that failed and were sent again",
    registers: [this.registry],
  });
  readonly skipped = new client.Counter({
    name: "relay_events_skipped_total",
    help: "Events re-sent by Postgres that the checkpoint already covered",
    registers: [this.registry],
  });
  readonly walBytesBehind = new client.Gauge({
    name: "relay_wal_bytes_behind",
    help: "Bytes of WAL between the server's current position and the slot's confirmed one",
    registers: [this.registry],
  });
  readonly oldestUnpublishedAge = new client.Gauge({
    name: "relay_oldest_unpublished_event_age_seconds",
    help: "Age of the oldest event received from the WAL but not yet in Kafka",
    registers: [this.registry],
  });
  readonly active = new client.Gauge({
    name: "relay_active",
    help: "1 while this instance holds the slot and publishes, 0 in standby",
    registers: [this.registry],
  });
  readonly blocked = new client.Gauge({
    name: "relay_blocked",
    help:
      "1 while the relay refuses to publish because the slot does not match the checkpoint (slot_missing, slot_recreated, wal_behind; README: slot lost)",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly publishLatency = new client.Histogram({
    name: "relay_commit_to_publish_seconds",
    help: "Time from the Postgres commit to the Kafka commit of its events",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  /** Events published per second over the last window, from a ring of samples. */
  #samples: { at: number; total: number }[] = [];
  #total = 0;

  notePublished(n: number): void {
    this.eventsPublished.inc(n);
    this.#total += n;
  }

  /** Call about once a second; returns the rate over the last ~10 s. */
  sampleRate(now = Date.now()): number {
    this.#samples.push({ at: now, total: this.#total });
    while (this.#samples.length > 1 && now - this.#samples[0].at > 10_000) this.#samples.shift();
    const first = this.#samples[0];
    const span = (now - first.at) / 1000;
    return span > 0 ? (this.#total - first.total) / span : 0;
  }
}
