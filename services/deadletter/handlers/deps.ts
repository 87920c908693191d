/**
 * What the dead-letter service's handlers work with.
 *
 * @module
 */
import type { Sql } from "../../../db/mod.ts";
import type { IdempotentProducer } from "../../../kafka/mod.ts";
import type { Logger } from "../../../kit/log.ts";
import type { DeadLetterMetrics } from "../metrics.ts";

export interface DeadLetterDeps {
  sql: Sql;
  log: Logger;
  metrics: DeadLetterMetrics;
  /** Re-sends to the original topics (connected). */
  producer: IdempotentProducer;
  /** Replays before a dead letter that fails again is non-retryable (SPEC §9.2: 5). */
  maxRetries: number;
  /** The relay's DLQ topic (its records are reports, not originals). */
  relayDlqTopic: string;
}
