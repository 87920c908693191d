/**
 * Every setting of the coupon service, read from the environment once
 * (`./dev` and `.data/dev.env` provide the suite's values).
 *
 * @module
 */
import { parseBrokers } from "../../kafka/mod.ts";
import { envBool, envInt, envString, jwtSecret } from "../../kit/mod.ts";

export interface CouponConfig {
  /** COUPON_HTTP_HOST: the address the HTTP API listens on (default 127.0.0.1). */
  httpHost: string;
  /** COUPON_HTTP_PORT: its port (default 7103). */
  httpPort: number;
  /** COUPON_DB_POOL_MAX: most Postgres connections (default 10). */
  dbPoolMax: number;
  /** KAFKA_BROKERS: host:port list of the cluster. */
  kafkaBrokers: string[];
  /** COUPON_CONSUMER_GROUP: the consumer group (default coupon-service). */
  groupId: string;
  /** COUPON_INBOX_CONSUMER: the name its inbox claims are made under (default coupon-service). */
  consumerName: string;
  /** COUPON_CONSUMER_FROM_BEGINNING: where a group without offsets starts (default true). */
  fromBeginning: boolean;
  /** CONSUMER_RETRY_ATTEMPTS / CONSUMER_RETRY_DELAY_MS: SPEC §9.2, 3 × 1 s. */
  retry: { attempts: number; delayMs: number };
  /** JWT_SECRET: verifies bearer tokens. */
  jwtSecret: string;
}

export function loadCouponConfig(): CouponConfig {
  return {
    httpHost: envString("COUPON_HTTP_HOST", "127.0.0.1"),
    httpPort: envInt("COUPON_HTTP_PORT", 7103, 0, 65535),
    dbPoolMax: envInt("COUPON_DB_POOL_MAX", 10, 1, 1000),
    kafkaBrokers: parseBrokers(
      envString("KAFKA_BROKERS", "127.0.0.1:59091,127.0.0.1:59092,127.0.0.1:59093"),
    ),
    groupId: envString("COUPON_CONSUMER_GROUP", "coupon-service"),
    consumerName: envString("COUPON_INBOX_CONSUMER", "coupon-service"),
    fromBeginning: envBool("COUPON_CONSUMER_FROM_BEGINNING", true),
    retry: {
      attempts: envInt("CONSUMER_RETRY_ATTEMPTS", 3, 1, 100),
      delayMs: envInt("CONSUMER_RETRY_DELAY_MS", 1_000, 0, 600_000),
    },
    jwtSecret: jwtSecret(),
  };
}
