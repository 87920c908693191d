/**
 * Every setting of the dead-letter service, read from the environment once
 * (`./dev` and `.data/dev.env` provide the suite's values). HTTP port 7105;
 * SPEC §9.2's figures: replay every 5 minutes, non-retryable after more than
 * 5 retries.
 *
 * @module
 */
import { dlqTopicOf, EVENT_TOPICS, parseBrokers, RELAY_DLQ_TOPIC } from "../../kafka/mod.ts";
import { envInt, envString, jwtSecret } from "../../kit/env.ts";

export interface DeadLetterConfig {
  /** DEADLETTER_HTTP_HOST (default 127.0.0.1). */
  httpHost: string;
  /** DEADLETTER_HTTP_PORT (default 7105). */
  httpPort: number;
  /** DEADLETTER_DB_POOL_MAX (default 5). */
  dbPoolMax: number;
  /** KAFKA_BROKERS. */
  kafkaBrokers: string[];
  /** DEADLETTER_CONSUMER_GROUP (default `deadletter-service`). */
  groupId: string;
  /**
   * DEADLETTER_TOPICS: comma-separated DLQ topics to read (default: every
   * `<topic>-dlq` of SPEC §3.2 and `outbox-relay-dlq`).
   */
  topics: string[];
  /** The relay's DLQ topic (RELAY_DLQ_TOPIC). */
  relayDlqTopic: string;
  /** DEADLETTER_REPLAY_INTERVAL_MS (default 300000, SPEC §9.2; 0 = no periodic replay). */
  replayIntervalMs: number;
  /** DEADLETTER_MAX_RETRIES (default 5, SPEC §9.2). */
  maxRetries: number;
  /** JWT_SECRET. */
  jwtSecret: string;
}

/** Every DLQ topic of the suite. */
export function defaultDlqTopics(): string[] {
  return [...EVENT_TOPICS.map((t) => dlqTopicOf(t.name)), RELAY_DLQ_TOPIC];
}

export function loadDeadLetterConfig(): DeadLetterConfig {
  const topics = envString("DEADLETTER_TOPICS", "").split(",").map((t) => t.trim()).filter(
    Boolean,
  );
  return {
    httpHost: envString("DEADLETTER_HTTP_HOST", "127.0.0.1"),
    httpPort: envInt("DEADLETTER_HTTP_PORT", 7105, 0, 65535),
    dbPoolMax: envInt("DEADLETTER_DB_POOL_MAX", 5, 1, 1000),
    kafkaBrokers: parseBrokers(
      envString("KAFKA_BROKERS", "127.0.0.1:59091,127.0.0.1:59092,127.0.0.1:59093"),
    ),
    groupId: envString("DEADLETTER_CONSUMER_GROUP", "deadletter-service"),
    topics: topics.length > 0 ? topics : defaultDlqTopics(),
    relayDlqTopic: RELAY_DLQ_TOPIC,
    replayIntervalMs: envInt("DEADLETTER_REPLAY_INTERVAL_MS", 300_000, 0, 86_400_000),
    maxRetries: envInt("DEADLETTER_MAX_RETRIES", 5, 0, 1000),
    jwtSecret: jwtSecret(),
  };
}
