/**
 * Every setting of the order service, read from the environment once.
 *
 * @module
 */
import { envInt, envString, infraConfig } from "../../kit/env.ts";
import { type InboxRetentionConfig, loadInboxRetention } from "../../kit/inbox_retention.ts";

export interface OrderConfig {
  instanceId: string;
  httpPort: number;
  kafkaBrokers: string[];
  /** A saga step with no reply within this time cancels the order (issue #5). */
  sagaDeadlineMs: number;
  /** How often overdue sagas are looked for. */
  deadlineSweepMs: number;
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
}

export function loadOrderConfig(): OrderConfig {
  return {
    instanceId: envString("ORDER_INSTANCE_ID", `order-${Deno.pid}`),
    httpPort: envInt("ORDER_HTTP_PORT", 7101, 0, 65535),
    kafkaBrokers: infraConfig().kafkaBrokers,
    sagaDeadlineMs: envInt("ORDER_SAGA_DEADLINE_MS", 15_000, 100),
    deadlineSweepMs: envInt("ORDER_DEADLINE_SWEEP_MS", 1_000, 50),
    dbPoolMax: envInt("ORDER_DB_POOL_MAX", 10, 1, 1000),
    consumerConcurrency: envInt("ORDER_CONSUMER_CONCURRENCY", 2, 1, 256),
    consumerBatch: envInt("ORDER_CONSUMER_BATCH", 100, 1, 10_000),
    inboxRetention: loadInboxRetention(),
  };
}
