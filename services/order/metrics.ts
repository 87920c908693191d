/**
 * The order service's metrics (SPEC §8: counters orders.created /
 * orders.completed / orders.failed, timer orders.processing.time, gauge
 * orders.backlog), on the process registry (kit/metrics.ts):
 *
 * - `orders_created_total{mode}`: orders placed (POST /orders, not an
 *   idempotent repeat).
 * - `orders_completed_total{mode}`, `orders_failed_total{mode}`: sagas that
 *   ended COMPLETED / CANCELLED (a failed step or the deadline).
 * - `orders_processing_time_seconds{mode,outcome}`: creation → end of the saga.
 * - `orders_backlog`: orders not finished yet (PENDING or COMPENSATING), and
 *   `orders_oldest_unfinished_age_seconds`: how long the oldest of them has
 *   been waiting (the "not finished 5 s after creation" alert) — both read
 *   from the database at scrape time, so every instance shows the same
 *   numbers: take `max()` over instances, not `sum()`.
 *
 * - `orders_admitted_total`, `orders_refused_total{reason}` (`overloaded`: 503,
 *   `user_limit`: 429): admission control of POST /orders (admission/); and
 *   from each instance's last reading of the shared signal,
 *   `orders_admission_in_flight`, `orders_admission_limit`,
 *   `orders_admission_completion_rate` (sagas/s) and
 *   `orders_admission_estimated_wait_seconds`.
 *
 * The counters are counted once the transaction that made the change has
 * committed (saga_runner.ts, `afterCommit`): a change rolled back — a
 * consumer batch that failed and is handled again message by message, a
 * failed commit — is not counted (issue 15, item 7).
 *
 * @module
 */
import type { Sql } from "../../db/mod.ts";
import { client, registry } from "../../kit/metrics.ts";
import type { AdmissionState } from "./admission/policy.ts";
import type { SagaMode } from "./domain/saga.ts";

const created = new client.Counter({
  name: "orders_created_total",
  help: "Orders placed (SPEC §8 orders.created)",
  labelNames: ["mode"] as const,
  registers: [registry],
});

const completed = new client.Counter({
  name: "orders_completed_total",
  help: "Order sagas that ended COMPLETED (SPEC §8 orders.completed)",
  labelNames: ["mode"] as const,
  registers: [registry],
});

const failed = new client.Counter({
  name: "orders_failed_total",
  help: "Order sagas that ended CANCELLED: a step failed or the deadline passed (orders.failed)",
  labelNames: ["mode"] as const,
  registers: [registry],
});

const processingTime = new client.Histogram({
  name: "orders_processing_time_seconds",
  help: "From an order's creation to the end of its saga (SPEC §8 orders.processing.time)",
  labelNames: ["mode", "outcome"] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
  registers: [registry],
});

/** An order was placed. */
export function orderCreated(mode: SagaMode): void {
  created.inc({ mode });
}

/** An order's saga ended (COMPLETED or CANCELLED) `createdAt` after its creation. */
export function orderFinished(
  mode: SagaMode,
  status: "COMPLETED" | "CANCELLED",
  createdAt: Date,
  now = Date.now(),
): void {
  (status === "COMPLETED" ? completed : failed).inc({ mode });
  processingTime.observe(
    { mode, outcome: status === "COMPLETED" ? "completed" : "cancelled" },
    Math.max(0, now - createdAt.getTime()) / 1000,
  );
}

let backlogSql: Sql | null = null;
let backlogRead: Promise<{ n: number; age: number }> | null = null;

/** One query per scrape for both gauges (the second reuses the first's answer). */
function readBacklog(): Promise<{ n: number; age: number }> {
  if (!backlogSql) return Promise.resolve({ n: 0, age: 0 });
  backlogRead ??= backlogSql<{ n: string; age: number | null }[]>`
      select count(*)::text as n,
             extract(epoch from now() - min(created_at))::float8 as age
      from orders where status in ('PENDING', 'COMPENSATING')`
    .then(([r]) => ({ n: Number(r.n), age: Math.max(0, r.age ?? 0) }))
    .finally(() => setTimeout(() => (backlogRead = null), 500));
  return backlogRead;
}

new client.Gauge({
  name: "orders_backlog",
  help: "Orders not finished yet: PENDING or COMPENSATING (SPEC §8 orders.backlog)",
  registers: [registry],
  async collect() {
    this.set((await readBacklog()).n);
  },
});

new client.Gauge({
  name: "orders_oldest_unfinished_age_seconds",
  help: "Age of the oldest order not finished yet (0 when none); SLA: 5 s (SPEC §8)",
  registers: [registry],
  async collect() {
    this.set((await readBacklog()).age);
  },
});

/** Lets the backlog gauges read the orders table (main.ts, at start). */
export function watchBacklog(sql: Sql): void {
  backlogSql = sql;
}

const admitted = new client.Counter({
  name: "orders_admitted_total",
  help: "POST /orders admitted by admission control and placed (issue #17)",
  registers: [registry],
});

const refused = new client.Counter({
  name: "orders_refused_total",
  help: "POST /orders refused by admission control: overloaded (503), user_limit (429)",
  labelNames: ["reason"] as const,
  registers: [registry],
});

const admissionGauges = {
  inFlight: new client.Gauge({
    name: "orders_admission_in_flight",
    help: "Sagas in flight (PENDING or COMPENSATING) at admission's last reading",
    registers: [registry],
  }),
  limit: new client.Gauge({
    name: "orders_admission_limit",
    help: "Most sagas in flight that can end within the admission target",
    registers: [registry],
  }),
  rate: new client.Gauge({
    name: "orders_admission_completion_rate",
    help: "Sagas ended per second over admission's window (every instance's)",
    registers: [registry],
  }),
  wait: new client.Gauge({
    name: "orders_admission_estimated_wait_seconds",
    help: "What a saga starting now would wait, in flight / completion rate (-1: nothing ends)",
    registers: [registry],
  }),
};

/** An order was admitted and placed. */
export function orderAdmitted(): void {
  admitted.inc();
}

/** An order was refused by admission control. */
export function orderRefused(reason: "overloaded" | "user_limit"): void {
  refused.inc({ reason });
}

/** Admission read the shared signal (admission/admission.ts). */
export function admissionRead(state: AdmissionState): void {
  admissionGauges.inFlight.set(state.inFlight);
  admissionGauges.limit.set(state.limit);
  admissionGauges.rate.set(state.completionRatePerS);
  admissionGauges.wait.set(
    Number.isFinite(state.estimatedWaitMs) ? state.estimatedWaitMs / 1000 : -1,
  );
}
