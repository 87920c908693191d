/**
 * Every setting of the order service, read from the environment once.
 *
 * @module
 */
import { envBool, envInt, envString, infraConfig } from "../../kit/env.ts";
import { type InboxRetentionConfig, loadInboxRetention } from "../../kit/inbox_retention.ts";
import type { AdmissionConfig } from "./admission/admission.ts";
import type { SweepBounds } from "./deadlines.ts";

export interface OrderConfig {
  instanceId: string;
  httpPort: number;
  kafkaBrokers: string[];
  /** A saga step with no reply within this time cancels the order (issue #5). */
  sagaDeadlineMs: number;
  /** How often overdue sagas are looked for. */
  deadlineSweepMs: number;
  /**
   * ORDER_DEADLINE_SWEEP_BATCH / ORDER_DEADLINE_SWEEP_MAX: overdue sagas given
   * up per transaction (10) and per pass (100) — a pass's work is bounded.
   */
  deadlineSweep: SweepBounds;
  /** ORDER_DB_POOL_MAX: most Postgres connections (default 10). */
  dbPoolMax: number;
  /**
   * ORDER_CONSUMER_CONCURRENCY: reply partitions handled at the same time,
   * each still one message at a time in order (default 2: 4 shortened the
   * replies' queue but lengthened POST /orders on a busy 2-core host).
   */
  consumerConcurrency: number;
  /**
   * ORDER_CONSUMER_BATCH: most replies of a partition's fetched batch
   * handled in one database transaction (default 100; 1: one transaction
   * per reply). A failing batch is rolled back and handled one reply at a
   * time (kit/consumer.ts).
   */
  consumerBatch: number;
  /** INBOX_RETENTION_DAYS / INBOX_CLEANUP_INTERVAL_MS: kit/inbox_retention.ts. */
  inboxRetention: InboxRetentionConfig;
  /** Admission control of POST /orders (admission/, issue #17); null when ORDER_ADMISSION=off. */
  admission: AdmissionConfig | null;
}

/** The admission knobs (README "Overload"); none depends on the machine. */
function loadAdmission(deadlineMs: number): AdmissionConfig | null {
  if (!envBool("ORDER_ADMISSION", true)) return null;
  return {
    deadlineMs,
    // Accepted sagas should end within this share of the deadline.
    targetPercent: envInt("ORDER_ADMISSION_TARGET_PERCENT", 50, 1, 100),
    // Sagas/s assumed before the rate is measured (cold start): a floor.
    minRatePerS: envInt("ORDER_ADMISSION_MIN_RATE", 20, 1),
    // The completion rate is measured over this window.
    windowMs: envInt("ORDER_ADMISSION_WINDOW_MS", 5_000, 500, 600_000),
    // How long one reading of the signal is used by an instance.
    refreshMs: envInt("ORDER_ADMISSION_REFRESH_MS", 200, 10, 60_000),
    // A user may have max(this, USER_PERCENT % of the global limit) sagas in flight.
    userMinInFlight: envInt("ORDER_ADMISSION_USER_MIN", 20, 1),
    userPercent: envInt("ORDER_ADMISSION_USER_PERCENT", 10, 0, 100),
  };
}

export function loadOrderConfig(): OrderConfig {
  const sagaDeadlineMs = envInt("ORDER_SAGA_DEADLINE_MS", 15_000, 100);
  return {
    instanceId: envString("ORDER_INSTANCE_ID", `order-${Deno.pid}`),
    httpPort: envInt("ORDER_HTTP_PORT", 7101, 0, 65535),
    kafkaBrokers: infraConfig().kafkaBrokers,
    sagaDeadlineMs,
    deadlineSweepMs: envInt("ORDER_DEADLINE_SWEEP_MS", 1_000, 50),
    deadlineSweep: {
      batch: envInt("ORDER_DEADLINE_SWEEP_BATCH", 10, 1, 1_000),
      maxPerPass: envInt("ORDER_DEADLINE_SWEEP_MAX", 100, 1, 100_000),
    },
    dbPoolMax: envInt("ORDER_DB_POOL_MAX", 10, 1, 1000),
    consumerConcurrency: envInt("ORDER_CONSUMER_CONCURRENCY", 2, 1, 256),
    consumerBatch: envInt("ORDER_CONSUMER_BATCH", 100, 1, 10_000),
    inboxRetention: loadInboxRetention(),
    admission: loadAdmission(sagaDeadlineMs),
  };
}
