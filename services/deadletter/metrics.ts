/**
 * The dead-letter service's figures (SPEC §9.2 alerts, §8 metrics), as
 * Prometheus metrics on its own registry, served at `GET /metrics`:
 * dead letters received (the alert), duplicates ignored, replays, permanent
 * failures, and how many there are per status (read from the table when
 * scraped).
 *
 * @module
 */
import client from "prom-client";
import { STATUSES } from "./domain/dead_letter.ts";

export class DeadLetterMetrics {
  readonly registry = new client.Registry();
  readonly received = new client.Counter({
    name: "deadletters_received_total",
    help: "Dead letters received (a new one, or one failing again after a replay)",
    labelNames: ["topic", "reason"],
    registers: [this.registry],
  });
  readonly duplicates = new client.Counter({
    name: "deadletters_duplicates_total",
    help: "DLQ records read again and ignored (already stored)",
    registers: [this.registry],
  });
  readonly replayed = new client.Counter({
    name: "deadletters_replayed_total",
    help: "Dead letters re-sent to their original topic",
    labelNames: ["topic", "trigger"],
    registers: [this.registry],
  });
  readonly permanent = new client.Counter({
    name: "deadletters_permanent_total",
    help: "Dead letters that became non-retryable after their retries (permanent-failure alert)",
    labelNames: ["topic"],
    registers: [this.registry],
  });
  readonly current: client.Gauge;

  /** `count` reads the counts per status when scraped. */
  constructor(count: () => Promise<{ status: string; n: number }[]>) {
    this.current = new client.Gauge({
      name: "deadletters_current",
      help: "Stored dead letters per status",
      labelNames: ["status"],
      registers: [this.registry],
      async collect() {
        const rows = await count().catch(() => null);
        if (rows === null) return;
        const by = new Map<string, number>(STATUSES.map((s) => [s, 0]));
        for (const r of rows) by.set(r.status, (by.get(r.status) ?? 0) + r.n);
        for (const [status, n] of by) this.set({ status }, n);
      },
    });
  }
}
