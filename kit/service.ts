/**
 * What every saga participant (inventory, coupon, point) does at start-up,
 * written once: its settings from the environment, then config →
 * connections → HTTP app → consumer → serve, and a clean stop on SIGTERM or
 * SIGINT. A participant's `main.ts` names its parts and calls
 * {@link runService}.
 *
 * @module
 */
import type { Hono } from "hono";
import { connectService, DB_ROLES, type ServiceRole, type Sql } from "../db/mod.ts";
import { createKafka, parseBrokers } from "../kafka/mod.ts";
import type { BreakerPolicy } from "./breaker.ts";
import { startConsumer } from "./consumer.ts";
import type { EventHandlers } from "./consumer.ts";
import { envBool, envInt, envString, jwtSecret } from "./env.ts";
import type { AppEnv } from "./http/mod.ts";
import {
  type InboxRetentionConfig,
  loadInboxRetention,
  scheduleInboxCleanup,
} from "./inbox_retention.ts";
import { createLogger, type Logger } from "./log.ts";

/**
 * Every setting of a participant; `<P>` is its prefix (`INVENTORY`,
 * `COUPON`, `POINT`), `./dev` and `.data/dev.env` provide the suite's values.
 */
export interface ParticipantConfig {
  /** <P>_HTTP_HOST: the address the HTTP API listens on (default 127.0.0.1). */
  httpHost: string;
  /** <P>_HTTP_PORT: its port (the service's default). */
  httpPort: number;
  /** <P>_DB_POOL_MAX: most Postgres connections (default 10). */
  dbPoolMax: number;
  /** KAFKA_BROKERS: host:port list of the cluster. */
  kafkaBrokers: string[];
  /** <P>_CONSUMER_GROUP: the consumer group (default `<name>-service`). */
  groupId: string;
  /** <P>_INBOX_CONSUMER: the name its inbox claims are made under (default `<name>-service`). */
  consumerName: string;
  /** <P>_CONSUMER_FROM_BEGINNING: where a group without offsets starts (default true). */
  fromBeginning: boolean;
  /**
   * <P>_CONSUMER_CONCURRENCY: partitions the consumer handles at the same
   * time, each still one message at a time in order (default 4; keep it
   * below <P>_DB_POOL_MAX, every one holds a connection while it works).
   */
  consumerConcurrency: number;
  /**
   * <P>_CONSUMER_BATCH: most messages of a partition's fetched batch the
   * consumer handles in one database transaction (default 100; 1: one
   * transaction per message). A failing batch is rolled back and handled
   * one message at a time (kit/consumer.ts).
   */
  consumerBatch: number;
  /** CONSUMER_RETRY_ATTEMPTS / CONSUMER_RETRY_DELAY_MS: SPEC §9.2, 3 × 1 s. */
  retry: { attempts: number; delayMs: number };
  /** JWT_SECRET: verifies bearer tokens. */
  jwtSecret: string;
  /**
   * The circuit breaker around the consumer's database work (SPEC §9.1),
   * named `<name>-db`; its figures from the service's policy, each
   * overridable: <P>_BREAKER_FAILURE_RATE (%), <P>_BREAKER_OPEN_MS,
   * <P>_BREAKER_WINDOW_S, <P>_BREAKER_MIN_CALLS. None without a policy.
   */
  breaker?: BreakerPolicy & { name: string };
  /** INBOX_RETENTION_DAYS / INBOX_CLEANUP_INTERVAL_MS: kit/inbox_retention.ts. */
  inboxRetention: InboxRetentionConfig;
}

/** A participant's settings, read from the environment once. */
export function loadParticipantConfig(
  opts: { prefix: string; name: string; httpPort: number; breaker?: BreakerPolicy },
): ParticipantConfig {
  const { prefix, name, breaker: b } = opts;
  return {
    breaker: b && {
      name: `${name}-db`,
      failureRatePercent: envInt(`${prefix}_BREAKER_FAILURE_RATE`, b.failureRatePercent, 1, 100),
      openMs: envInt(`${prefix}_BREAKER_OPEN_MS`, b.openMs, 10, 3_600_000),
      windowSeconds: envInt(`${prefix}_BREAKER_WINDOW_S`, b.windowSeconds, 1, 3_600),
      minimumCalls: envInt(`${prefix}_BREAKER_MIN_CALLS`, b.minimumCalls, 1, 100_000),
    },
    httpHost: envString(`${prefix}_HTTP_HOST`, "127.0.0.1"),
    httpPort: envInt(`${prefix}_HTTP_PORT`, opts.httpPort, 0, 65535),
    dbPoolMax: envInt(`${prefix}_DB_POOL_MAX`, 10, 1, 1000),
    kafkaBrokers: parseBrokers(
      envString("KAFKA_BROKERS", "127.0.0.1:59091,127.0.0.1:59092,127.0.0.1:59093"),
    ),
    groupId: envString(`${prefix}_CONSUMER_GROUP`, `${name}-service`),
    consumerName: envString(`${prefix}_INBOX_CONSUMER`, `${name}-service`),
    fromBeginning: envBool(`${prefix}_CONSUMER_FROM_BEGINNING`, true),
    consumerConcurrency: envInt(`${prefix}_CONSUMER_CONCURRENCY`, 4, 1, 256),
    consumerBatch: envInt(`${prefix}_CONSUMER_BATCH`, 100, 1, 10_000),
    retry: {
      attempts: envInt("CONSUMER_RETRY_ATTEMPTS", 3, 1, 100),
      delayMs: envInt("CONSUMER_RETRY_DELAY_MS", 1_000, 0, 600_000),
    },
    jwtSecret: jwtSecret(),
    inboxRetention: loadInboxRetention(),
  };
}

/** The parts of a participant {@link runService} wires together. */
export interface ServiceOptions {
  /** The service's name, for its logs: `"inventory"`. */
  name: string;
  /** The database role it connects as. */
  role: ServiceRole;
  /** Its settings (from its config.ts). */
  config: ParticipantConfig;
  /** Builds its HTTP app. */
  http: (deps: { sql: Sql; log: Logger; jwtSecret: string }) => Hono<AppEnv>;
  /** Its handlers by event type. */
  handlers: EventHandlers;
  /** The topics its consumer reads. */
  topics: readonly string[];
}

/**
 * Connects, starts the consumer, serves HTTP, cleans its inbox on a schedule
 * (kit/inbox_retention.ts), and on SIGTERM or SIGINT stops the consumer, the
 * cleanup, then the server, then the pool, and exits.
 */
export async function runService(opts: ServiceOptions): Promise<void> {
  const { name, config: cfg } = opts;
  const log = createLogger(name);
  const sql = connectService(opts.role, { max: cfg.dbPoolMax });
  const kafka = createKafka({ brokers: cfg.kafkaBrokers, clientId: cfg.groupId });

  const app = opts.http({ sql, log, jwtSecret: cfg.jwtSecret });
  const consumer = await startConsumer({
    kafka,
    sql,
    log,
    handlers: opts.handlers,
    topics: [...opts.topics],
    groupId: cfg.groupId,
    consumerName: cfg.consumerName,
    fromBeginning: cfg.fromBeginning,
    partitionsConcurrently: cfg.consumerConcurrency,
    batchMessages: cfg.consumerBatch,
    retry: cfg.retry,
    breaker: cfg.breaker,
  });
  const server = Deno.serve(
    { hostname: cfg.httpHost, port: cfg.httpPort, onListen: () => {} },
    app.fetch,
  );
  log.info(`${name} service listening`, { host: cfg.httpHost, port: server.addr.port });
  const schema = DB_ROLES[opts.role].schema;
  const inboxCleanup = scheduleInboxCleanup({ sql, log, schema, ...cfg.inboxRetention });

  const shutdown = async () => {
    await consumer.stop();
    await inboxCleanup.stop();
    await server.shutdown();
    await sql.end({ timeout: 5 });
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", shutdown);
  Deno.addSignalListener("SIGINT", shutdown);
}
