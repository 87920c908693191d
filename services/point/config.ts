/**
 * Every setting of the point service, read from the environment once
 * (`./dev` and `.data/dev.env` provide the suite's values).
 *
 * @module
 */
import { parseBrokers } from "../../kafka/mod.ts";
import { envBool, envInt, envString, jwtSecret } from "../../kit/mod.ts";

export interface PointConfig {
  /** POINT_HTTP_HOST: the address the HTTP API listens on (default 127.0.0.1). */
  httpHost: string;
  /** POINT_HTTP_PORT: its port (default 7104). */
  httpPort: number;
  /** POINT_DB_POOL_MAX: most Postgres connections (default 10). */
  dbPoolMax: number;
  /** KAFKA_BROKERS: host:port list of the cluster. */
  kafkaBrokers: string[];
  /** POINT_CONSUMER_GROUP: the consumer group (default point-service). */
  groupId: string;
  /** POINT_INBOX_CONSUMER: the name its inbox claims are made under (default point-service). */
  consumerName: string;
  /** POINT_CONSUMER_FROM_BEGINNING: where a group without offsets starts (default true). */
  fromBeginning: boolean;
  /** CONSUMER_RETRY_ATTEMPTS / CONSUMER_RETRY_DELAY_MS: SPEC §9.2, 3 × 1 s. */
  retry: { attempts: number; delayMs: number };
  /** JWT_SECRET: verifies bearer tokens. */
  jwtSecret: string;
}

export function loadPointConfig(): PointConfig {
  return {
    httpHost: envString("POINT_HTTP_HOST", "127.0.0.1"),
    httpPort: envInt("POINT_HTTP_PORT", 7104, 0, 65535),
    dbPoolMax: envInt("POINT_DB_POOL_MAX", 10, 1, 1000),
    kafkaBrokers: parseBrokers(
      envString("KAFKA_BROKERS", "127.0.0.1:59091,127.0.0.1:59092,127.0.0.1:59093"),
    ),
    groupId: envString("POINT_CONSUMER_GROUP", "point-service"),
    consumerName: envString("POINT_INBOX_CONSUMER", "point-service"),
    fromBeginning: envBool("POINT_CONSUMER_FROM_BEGINNING", true),
    retry: {
      attempts: envInt("CONSUMER_RETRY_ATTEMPTS", 3, 1, 100),
      delayMs: envInt("CONSUMER_RETRY_DELAY_MS", 1_000, 0, 600_000),
    },
    jwtSecret: jwtSecret(),
  };
}
