/**
 * Every setting of the inventory service, read from the environment once
 * (`./dev` and `.data/dev.env` provide the suite's values).
 *
 * @module
 */
import { parseBrokers } from "../../kafka/mod.ts";
import { envBool, envInt, envString, jwtSecret } from "../../kit/mod.ts";

export interface InventoryConfig {
  /** INVENTORY_HTTP_HOST: the address the HTTP API listens on (default 127.0.0.1). */
  httpHost: string;
  /** INVENTORY_HTTP_PORT: its port (default 7102). */
  httpPort: number;
  /** INVENTORY_DB_POOL_MAX: most Postgres connections (default 10). */
  dbPoolMax: number;
  /** KAFKA_BROKERS: host:port list of the cluster. */
  kafkaBrokers: string[];
  /** INVENTORY_CONSUMER_GROUP: the consumer group (default inventory-service). */
  groupId: string;
  /** INVENTORY_INBOX_CONSUMER: the name its inbox claims are made under (default inventory-service). */
  consumerName: string;
  /** INVENTORY_CONSUMER_FROM_BEGINNING: where a group without offsets starts (default true). */
  fromBeginning: boolean;
  /** CONSUMER_RETRY_ATTEMPTS / CONSUMER_RETRY_DELAY_MS: SPEC §9.2, 3 × 1 s. */
  retry: { attempts: number; delayMs: number };
  /** JWT_SECRET: verifies bearer tokens. */
  jwtSecret: string;
}

export function loadInventoryConfig(): InventoryConfig {
  return {
    httpHost: envString("INVENTORY_HTTP_HOST", "127.0.0.1"),
    httpPort: envInt("INVENTORY_HTTP_PORT", 7102, 0, 65535),
    dbPoolMax: envInt("INVENTORY_DB_POOL_MAX", 10, 1, 1000),
    kafkaBrokers: parseBrokers(
      envString("KAFKA_BROKERS", "127.0.0.1:59091,127.0.0.1:59092,127.0.0.1:59093"),
    ),
    groupId: envString("INVENTORY_CONSUMER_GROUP", "inventory-service"),
    consumerName: envString("INVENTORY_INBOX_CONSUMER", "inventory-service"),
    fromBeginning: envBool("INVENTORY_CONSUMER_FROM_BEGINNING", true),
    retry: {
      attempts: envInt("CONSUMER_RETRY_ATTEMPTS", 3, 1, 100),
      delayMs: envInt("CONSUMER_RETRY_DELAY_MS", 1_000, 0, 600_000),
    },
    jwtSecret: jwtSecret(),
  };
}
