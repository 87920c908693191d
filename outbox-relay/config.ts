/**
 * Every setting of the relay process, read from the environment once.
 *
 * @module
 */
import { envInt, envString, infraConfig } from "../kit/env.ts";

export interface RelayConfig {
  /** Identifies this instance in logs and health output. */
  instanceId: string;
  /** The durable logical replication slot (pgoutput) the relay reads. */
  slotName: string;
  publicationName: string;
  /** Kafka transactional id: the same for every instance, so a new active fences the old. */
  transactionalId: string;
  kafkaBrokers: string[];
  pg: { host: string; port: number; database: string; user: string; password: string };
  /** Most events in one Kafka transaction. */
  maxBatchEvents: number;
  /**
   * About the most bytes of events (payloads, headers, keys) in one Kafka
   * transaction; a Postgres transaction larger than this still goes whole,
   * alone (it is never split across Kafka transactions).
   */
  maxBatchBytes: number;
  /**
   * The most bytes of one partition's records in one produce request: a
   * Kafka transaction is sent as as many requests as this needs. It must stay
   * under the brokers' `message.max.bytes` (1,048,588 by default), which
   * refuses a larger record batch (issue #15).
   */
  maxPartitionBatchBytes: number;
  /**
   * How long a batch may wait for more events before it is sent (default 0).
   * Not needed for efficiency: the relay group-commits — one Kafka
   * transaction at a time, and everything that arrives while one commits
   * goes in the next — so batches grow with the load by themselves, and an
   * event that finds nothing in flight goes at once (issue #16).
   */
  lingerMs: number;
  /** Decoded events held in memory before the WAL stream is paused. */
  maxBufferedEvents: number;
  /**
   * About the bytes of decoded events held in memory before the WAL stream
   * is paused (default 8 MiB): with the count alone, a backlog of large
   * events filled the relay's memory while it drained (issue #16). 8 MiB
   * holds several full batches (RELAY_MAX_BATCH_BYTES); 16 MiB drained no
   * faster and cost ~20 MB more RSS (bench:relay, memory_settings.ts).
   */
  maxBufferedBytes: number;
  /**
   * How long Kafka lets a relay transaction stay open before it aborts it
   * (default 10 s). A relay that dies mid-transaction holds back every
   * read_committed reader of the partitions it touched — consumers and every
   * relay's checkpoint read — until a relay registers the same transactional
   * id or this runs out; a relay's transactions take milliseconds.
   */
  transactionTimeoutMs: number;
  /** How often an idle database gets a heartbeat row (keeps the slot moving). */
  heartbeatMs: number;
  /** How often a standby tries to take the slot. */
  standbyPollMs: number;
  /** HTTP port of /health and /metrics (0: no HTTP). */
  httpPort: number;
  /** How long published outbox rows are kept as the event store (issue #4: 7 days). */
  retentionMs: number;
  /** How often the active relay removes outbox rows past their retention. */
  cleanupIntervalMs: number;
  /** How often a relay that refuses to publish (slot_loss.ts) looks again. */
  blockedPollMs: number;
  /**
   * An idle relay records the position it may confirm (heartbeats, keepalives
   * past its last events) as its checkpoint after this long: Postgres is
   * never told a position beyond the checkpoint (slot_loss.ts).
   */
  idleCheckpointMs: number;
  /** Test only: while this file exists, every commit of a batch fails after its records were sent. */
  testFailCommitsFile: string;
  /** Test only: how long reading the checkpoint at start is held up (a slow Kafka). */
  testCheckpointDelayMs: number;
}

export function loadRelayConfig(): RelayConfig {
  const infra = infraConfig();
  const slotName = envString("RELAY_SLOT", "outbox_relay");
  return {
    instanceId: envString("RELAY_INSTANCE_ID", `relay-${Deno.pid}`),
    slotName,
    publicationName: envString("RELAY_PUBLICATION", "outbox_pub"),
    // One transactional id per slot: relays of the same slot fence each
    // other, relays of different slots (tests) never do.
    transactionalId: envString("RELAY_TRANSACTIONAL_ID", `outbox-relay-${slotName}`),
    kafkaBrokers: infra.kafkaBrokers,
    pg: {
      host: infra.pg.host,
      port: infra.pg.port,
      database: infra.pg.database,
      user: "outbox_relay",
      password: envString("RELAY_DB_PASSWORD"),
    },
    maxBatchEvents: envInt("RELAY_MAX_BATCH_EVENTS", 2_000, 1),
    maxBatchBytes: envInt("RELAY_MAX_BATCH_BYTES", 4 * 1024 * 1024, 1_024),
    maxPartitionBatchBytes: envInt("RELAY_MAX_PARTITION_BATCH_BYTES", 512 * 1024, 1_024, 1_048_576),
    lingerMs: envInt("RELAY_LINGER_MS", 0, 0),
    maxBufferedEvents: envInt("RELAY_MAX_BUFFERED_EVENTS", 50_000, 1),
    maxBufferedBytes: envInt("RELAY_MAX_BUFFERED_BYTES", 8 * 1024 * 1024, 1),
    transactionTimeoutMs: envInt("RELAY_TRANSACTION_TIMEOUT_MS", 10_000, 1_000, 900_000),
    heartbeatMs: envInt("RELAY_HEARTBEAT_MS", 10_000, 100),
    standbyPollMs: envInt("RELAY_STANDBY_POLL_MS", 1_000, 50),
    httpPort: envInt("RELAY_HTTP_PORT", 7070, 0, 65535),
    retentionMs: envInt("RELAY_RETENTION_DAYS", 7, 0) * 24 * 60 * 60 * 1000,
    cleanupIntervalMs: envInt("RELAY_CLEANUP_INTERVAL_MS", 60 * 60 * 1000, 1_000, 2_147_483_647),
    blockedPollMs: envInt("RELAY_BLOCKED_POLL_MS", 5_000, 100, 600_000),
    idleCheckpointMs: envInt("RELAY_IDLE_CHECKPOINT_MS", 1_000, 100, 60_000),
    testFailCommitsFile: envString("RELAY_TEST_FAIL_COMMITS_FILE", ""),
    testCheckpointDelayMs: envInt("RELAY_TEST_CHECKPOINT_DELAY_MS", 0, 0, 600_000),
  };
}
