/**
 * The relay: WAL → Kafka, exactly once (issue #4).
 *
 * One instance at a time holds the replication slot (Postgres allows one
 * reader per slot); the others wait in standby and take over when it is
 * free. The holder then
 *  1. initialises the Kafka transactional id — fencing any older instance,
 *     whose unfinished transaction is aborted;
 *  2. reads the last committed checkpoint (checkpoint.ts);
 *  3. publishes batches of whole Postgres transactions, each batch in one
 *     Kafka transaction together with the checkpoint it ends at, skipping
 *     what the checkpoint already covers;
 *  4. confirms a position to Postgres only after its Kafka commit.
 * Any failure tears the session down and starts over from step 0 (crash-only:
 * there is no state that a restart would not rebuild).
 *
 * @module
 */
import { cleanupOutbox, connectService, type Sql } from "../db/mod.ts";
import {
  Admin,
  createKafka,
  type KafkaJs,
  type OutgoingMessage,
  ProducerFencedError,
  RELAY_CHECKPOINT_TOPIC,
  RELAY_DLQ_TOPIC,
  type TopicBatch,
  TransactionalProducer,
} from "../kafka/mod.ts";
import type { Logger } from "../kit/log.ts";
import {
  failSpan,
  markSpan,
  ROOT_CONTEXT,
  type Span,
  startProducerSpan,
  trace,
} from "../kit/tracing.ts";
import { CheckpointStore } from "./checkpoint.ts";
import type { RelayConfig } from "./config.ts";
import { formatLsn } from "./lsn.ts";
import { approximateBytes, toDeadLetter, toRecord } from "./messages.ts";
import { RelayMetrics } from "./metrics.ts";
import { WalReader, type WalTransaction } from "./wal_reader.ts";

export type RelayState = "starting" | "standby" | "active" | "stopped";

/** Raised when another relay holds the slot. */
class SlotBusyError extends Error {
  override name = "SlotBusyError";
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fileExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

export class Relay {
  readonly metrics = new RelayMetrics();
  #cfg: RelayConfig;
  #log: Logger;
  #kafka: KafkaJs;
  #state: RelayState = "starting";
  #stopping = false;
  #session: Session | null = null;
  #lastError: string | null = null;

  constructor(cfg: RelayConfig, log: Logger) {
    this.#cfg = cfg;
    this.#log = log;
    this.#kafka = createKafka({
      brokers: cfg.kafkaBrokers,
      clientId: cfg.instanceId,
      logLevel: "nothing",
    });
  }

  get state(): RelayState {
    return this.#state;
  }

  /** What /health shows. */
  health() {
    const s = this.#session;
    return {
      instance: this.#cfg.instanceId,
      state: this.#state,
      slot: this.#cfg.slotName,
      checkpoint: s?.checkpoint != null ? formatLsn(s.checkpoint) : null,
      confirmed: s ? formatLsn(s.durableLsn) : null,
      bufferedEvents: s?.queuedEvents ?? 0,
      eventsPerSecond: Math.round(this.#rate * 10) / 10,
      walBytesBehind: this.#walBehind,
      oldestUnpublishedAgeSeconds: s?.oldestUnpublishedAge() ?? 0,
      lastError: this.#lastError,
    };
  }

  #rate = 0;
  #walBehind: number | null = null;

  /** Runs until stop(): standby → active → (failure) → standby … */
  async run(): Promise<void> {
    const rateTimer = setInterval(() => (this.#rate = this.metrics.sampleRate()), 1_000);
    let failures = 0;
    try {
      while (!this.#stopping) {
        const session = new Session(this.#cfg, this.#kafka, this.#log, this.metrics, (state) => {
          this.#state = state;
          this.metrics.active.set(state === "active" ? 1 : 0);
        }, (behind) => (this.#walBehind = behind));
        this.#session = session;
        try {
          await session.run(() => this.#stopping);
          failures = 0;
        } catch (err) {
          if (err instanceof SlotBusyError) {
            if (this.#state !== "standby") {
              this.#log.info("slot held by another relay: standby", { slot: this.#cfg.slotName });
            }
            this.#state = "standby";
            this.metrics.active.set(0);
            await sleep(this.#cfg.standbyPollMs);
            continue;
          }
          failures++;
          this.#lastError = String((err as Error)?.message ?? err);
          const level = err instanceof ProducerFencedError ? "warn" : "error";
          this.#log[level]("relay session ended; starting over", { error: err as Error, failures });
          this.#state = "starting";
          this.metrics.active.set(0);
          // Back off, but keep a standby-like cadence so a takeover stays fast.
          await sleep(Math.min(200 * 2 ** Math.min(failures - 1, 4), 3_000));
        } finally {
          await session.close();
        }
      }
    } finally {
      clearInterval(rateTimer);
      this.#state = "stopped";
      this.metrics.active.set(0);
    }
  }

  /** Stops after the Kafka transaction in flight, if any. */
  stop(): void {
    this.#stopping = true;
    this.#session?.interrupt();
  }
}

/** One hold of the slot, from acquisition to failure or stop. */
class Session {
  checkpoint: bigint | null = null;
  /** Highest position whose events are all in Kafka: what Postgres may forget. */
  durableLsn = 0n;
  queuedEvents = 0;

  #cfg: RelayConfig;
  #kafka: KafkaJs;
  #log: Logger;
  #metrics: RelayMetrics;
  #setState: (s: RelayState) => void;
  #setWalBehind: (n: number | null) => void;
  #sql: Sql;
  #reader: WalReader;
  #producer: TransactionalProducer;
  #queue: WalTransaction[] = [];
  #wake: (() => void) | null = null;
  #drained: (() => void) | null = null;
  #interrupted = false;
  #inFlightSince: Date | null = null;
  #knownTopics = new Set<string>();
  #topicsFetchedAt = 0;
  #publishedUntil: Date | null = null;
  #progressSaved = { lsn: -1n };
  /** When the last Kafka transaction began (RELAY_MIN_TX_INTERVAL_MS paces them). */
  #lastTransactionAt = 0;
  #timers: ReturnType<typeof setInterval>[] = [];
  /** True once the checkpoint is known and publishing may start. */
  #ready = false;

  constructor(
    cfg: RelayConfig,
    kafka: KafkaJs,
    log: Logger,
    metrics: RelayMetrics,
    setState: (s: RelayState) => void,
    setWalBehind: (n: number | null) => void,
  ) {
    this.#cfg = cfg;
    this.#kafka = kafka;
    this.#log = log;
    this.#metrics = metrics;
    this.#setState = setState;
    this.#setWalBehind = setWalBehind;
    this.#sql = connectService("outbox_relay", {
      max: 2,
      applicationName: `${cfg.instanceId}-sql`,
    });
    this.#reader = new WalReader({
      ...cfg.pg,
      slotName: cfg.slotName,
      publicationName: cfg.publicationName,
      applicationName: cfg.instanceId,
    });
    this.#producer = new TransactionalProducer(kafka, {
      transactionalId: cfg.transactionalId,
      maxPartitionBatchBytes: cfg.maxPartitionBatchBytes,
    });
  }

  async run(stopping: () => boolean): Promise<void> {
    await this.#ensureSlot();
    const [{ active }] = await this.#sql<{ active: boolean }[]>`
      select active from pg_replication_slots where slot_name = ${this.#cfg.slotName}`;
    if (active) throw new SlotBusyError(`slot ${this.#cfg.slotName} is in use`);

    let started!: () => void;
    const start = new Promise<void>((r) => (started = r));
    const reading = this.#reader.run(
      (tx) => this.#offer(tx),
      () => started(),
      (idleAt, replyNow) => this.#onKeepalive(idleAt, replyNow),
    ).catch((err) => {
      // 55006 object_in_use: "replication slot … is active for PID …"
      if ((err as { code?: string }).code === "55006") throw new SlotBusyError(String(err.message));
      throw err;
    });
    await Promise.race([start, reading]);
    this.#startAcknowledging();

    // We hold the slot. Fence older instances and learn where Kafka is.
    this.#setState("active");
    if (this.#cfg.testCheckpointDelayMs > 0) await sleep(this.#cfg.testCheckpointDelayMs);
    this.checkpoint = await new CheckpointStore(this.#kafka, this.#cfg.slotName).readLatest(
      this.#producer,
    );
    this.#log.info("relay active", {
      slot: this.#cfg.slotName,
      checkpoint: this.checkpoint === null ? null : formatLsn(this.checkpoint),
    });
    await this.#refreshTopics();
    this.#startTimers();
    this.#ready = true;

    const publishing = this.#publishLoop(stopping);
    await Promise.race([
      reading.then(() => {
        if (!this.#interrupted) throw new Error("the replication stream ended");
      }),
      publishing,
    ]);
  }

  interrupt(): void {
    this.#interrupted = true;
    this.#wake?.();
  }

  async close(): Promise<void> {
    this.#interrupted = true;
    for (const t of this.#timers) clearInterval(t);
    this.#wake?.();
    this.#drained?.();
    await this.#reader.stop();
    await this.#producer.disconnect();
    await this.#sql.end({ timeout: 2 }).catch(() => {});
  }

  oldestUnpublishedAge(): number {
    const first = this.#inFlightSince ??
      this.#queue.find((t) => t.events.length > 0)?.events[0].createdAt;
    return first ? Math.max(0, (Date.now() - first.getTime()) / 1000) : 0;
  }

  async #ensureSlot(): Promise<void> {
    const slot = this.#cfg.slotName;
    const found = await this.#sql`select 1 from pg_replication_slots where slot_name = ${slot}`;
    if (found.length > 0) return;
    try {
      await this.#sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput', false)`;
      this.#log.info("created replication slot", { slot });
    } catch (err) {
      if ((err as { code?: string }).code !== "42710") throw err; // another relay just made it
    }
  }

  /** Called by the WAL reader for each transaction; waits while the buffer is full. */
  async #offer(tx: WalTransaction): Promise<void> {
    while (this.queuedEvents >= this.#cfg.maxBufferedEvents && !this.#interrupted) {
      await new Promise<void>((r) => (this.#drained = r));
    }
    if (
      tx.events.length === 0 && this.#ready && this.#queue.length === 0 &&
      this.#inFlightSince === null
    ) {
      // A heartbeat with nothing before it waiting or in flight: its
      // position is durable as it is.
      if (tx.commitEndLsn > this.durableLsn) this.durableLsn = tx.commitEndLsn;
      return;
    }
    this.#queue.push(tx);
    this.queuedEvents += tx.events.length;
    this.#wake?.();
  }

  /** See WalReader: a keepalive position is durable when nothing is pending here. */
  #onKeepalive(idleAt: bigint | null, replyNow: boolean): void {
    if (
      idleAt !== null && this.#ready && this.#queue.length === 0 && this.#inFlightSince === null
    ) {
      if (idleAt > this.durableLsn) this.durableLsn = idleAt;
    }
    if (replyNow) this.#reader.acknowledge(this.durableLsn).catch(() => {});
  }

  async #publishLoop(stopping: () => boolean): Promise<void> {
    while (!stopping() && !this.#interrupted) {
      if (this.#queue.length === 0) {
        await new Promise<void>((r) => {
          this.#wake = r;
          setTimeout(r, 500);
        });
        this.#wake = null;
        continue;
      }
      // Wait for more events: the linger, or the rest of the pacing interval
      // since the previous transaction began, whichever is longer — unless a
      // full batch is already waiting.
      const paced = this.#cfg.minTransactionIntervalMs - (Date.now() - this.#lastTransactionAt);
      const wait = Math.max(this.#cfg.lingerMs, paced);
      if (wait > 0 && this.queuedEvents < this.#cfg.maxBatchEvents) await sleep(wait);
      this.#lastTransactionAt = Date.now();
      const batch = this.#takeBatch();
      await this.#publish(batch);
    }
  }

  /**
   * Whole Postgres transactions, up to RELAY_MAX_BATCH_EVENTS events and
   * about RELAY_MAX_BATCH_BYTES bytes (the first one whatever its size).
   */
  #takeBatch(): WalTransaction[] {
    const batch: WalTransaction[] = [];
    let n = 0;
    let bytes = 0;
    while (this.#queue.length > 0) {
      const next = this.#queue[0];
      const size = next.events.reduce((sum, row) => sum + approximateBytes(row), 0);
      if (
        batch.length > 0 &&
        (n + next.events.length > this.#cfg.maxBatchEvents ||
          bytes + size > this.#cfg.maxBatchBytes)
      ) break;
      batch.push(this.#queue.shift()!);
      n += next.events.length;
      bytes += size;
    }
    this.queuedEvents -= n;
    this.#drained?.();
    this.#drained = null;
    return batch;
  }

  async #publish(batch: WalTransaction[]): Promise<void> {
    const last = batch[batch.length - 1].commitEndLsn;
    const fresh = batch.filter((t) => this.checkpoint === null || t.commitEndLsn > this.checkpoint);
    const skipped = batch.length - fresh.length;
    if (skipped > 0) {
      this.#metrics.skipped.inc(batch.slice(0, skipped).reduce((n, t) => n + t.events.length, 0));
    }
    const events = fresh.reduce((n, t) => n + t.events.length, 0);
    if (events === 0) {
      if (last > this.durableLsn) this.durableLsn = last;
      return;
    }
    this.#inFlightSince = fresh.find((t) => t.events.length > 0)!.events[0].createdAt;

    const byTopic = new Map<string, OutgoingMessage[]>();
    const deadLetters: OutgoingMessage[] = [];
    // One PRODUCER span per traced event, child of its outbox row's
    // `traceparent`; its context replaces that header on the record.
    const spans: Span[] = [];
    let newest = this.#publishedUntil;
    for (const tx of fresh) {
      for (const row of tx.events) {
        let r = toRecord(row, tx.commitEndLsn, { knownTopics: this.#knownTopics });
        if (!r.ok && r.reason === "unknown-topic" && await this.#refreshTopics()) {
          r = toRecord(row, tx.commitEndLsn, { knownTopics: this.#knownTopics });
        }
        if (r.ok) {
          // Few attributes: each costs µs per event at thousands of events/s.
          const span = startProducerSpan(`publish ${r.topic}`, r.message.headers!, {
            "messaging.destination.name": r.topic,
            "messaging.message.id": row.eventId,
            "event.type": row.eventType,
          });
          if (span) spans.push(span);
          const list = byTopic.get(r.topic) ?? [];
          list.push(r.message);
          byTopic.set(r.topic, list);
        } else {
          deadLetters.push(toDeadLetter(row, tx.commitEndLsn, r.reason, r.detail));
          const tp = (row.headers as Record<string, unknown> | null)?.traceparent;
          const parent: Record<string, string> = typeof tp === "string" ? { traceparent: tp } : {};
          const span = startProducerSpan(`dead-letter ${RELAY_DLQ_TOPIC}`, parent, {
            "messaging.destination.name": RELAY_DLQ_TOPIC,
            "messaging.message.id": row.eventId,
            "dlq.reason": r.reason,
          });
          if (span) {
            failSpan(span, new Error(r.detail), `dead-lettered (${r.reason}): ${r.detail}`);
            spans.push(span);
          }
          this.#log.warn("outbox row dead-lettered", {
            eventId: row.eventId,
            schema: row.schema,
            reason: r.reason,
            detail: r.detail,
          });
        }
        if (newest === null || row.createdAt > newest) newest = row.createdAt;
      }
    }
    const batches: TopicBatch[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    if (deadLetters.length > 0) batches.push({ topic: RELAY_DLQ_TOPIC, messages: deadLetters });
    const checkpoints = new CheckpointStore(this.#kafka, this.#cfg.slotName);
    batches.push({
      topic: RELAY_CHECKPOINT_TOPIC,
      messages: [checkpoints.record(last, this.#cfg.instanceId)],
    });

    try {
      await this.#commitWithRetry(batches, last, spans);
    } catch (err) {
      for (const s of spans) {
        failSpan(s, err, "not published: the session ended; the next one sends it again");
        s.end();
      }
      throw err;
    }
    for (const s of spans) s.end();

    this.checkpoint = last;
    this.durableLsn = last;
    this.#publishedUntil = newest;
    this.#inFlightSince = null;
    const now = Date.now();
    for (const tx of fresh) {
      if (tx.events.length > 0) {
        this.#metrics.publishLatency.observe((now - tx.commitTime.getTime()) / 1000);
      }
    }
    this.#metrics.transactions.inc();
    this.#metrics.notePublished(events - deadLetters.length);
    for (const [topic, messages] of byTopic) {
      this.#metrics.publishedByTopic.inc({ topic }, messages.length);
    }
    for (const d of deadLetters) {
      this.#metrics.deadLettered.inc({ reason: d.headers!["dlq-reason"] });
    }
  }

  async #commitWithRetry(batches: TopicBatch[], last: bigint, spans: Span[] = []): Promise<void> {
    for (let attempt = 1;; attempt++) {
      try {
        // A failed commit may have committed after all (the coordinator's
        // broker died after taking the EndTxn): sending the batch again would
        // publish it twice (found by the chaos run, chaos/). The checkpoint,
        // read back through the renewed producer (which first lets that
        // transaction finish), says whether it did.
        if (attempt > 1 && await this.#committedAlready(last)) return;
        await this.#commitOnce(batches);
        return;
      } catch (err) {
        if (err instanceof ProducerFencedError || this.#interrupted) throw err;
        this.#metrics.transactionRetries.inc();
        // Each traced event shows the failed attempt as a child span with the
        // error (the first three, then every tenth, as the log does).
        for (const s of attempt <= 3 || attempt % 10 === 0 ? spans : []) {
          markSpan("retry kafka transaction", { "retry.attempt": attempt }, {
            error: err,
            parent: trace.setSpan(ROOT_CONTEXT, s),
          });
        }
        if (attempt <= 3 || attempt % 10 === 0) {
          this.#log.warn("kafka transaction failed; sending the batch again", {
            attempt,
            error: err as Error,
          });
        }
        // Broker outages are waited out; nothing is dropped (issue #4).
        await sleep(Math.min(100 * 2 ** Math.min(attempt - 1, 6), 5_000));
      }
    }
  }

  /** One Kafka transaction of `batches` (RELAY_TEST_FAIL_COMMITS_FILE: a broker error in tests). */
  #commitOnce(batches: TopicBatch[]): Promise<void> {
    const faultFile = this.#cfg.testFailCommitsFile;
    if (!faultFile) return this.#producer.commit(batches);
    return this.#producer.transaction(async (tx) => {
      await tx.send(batches);
      if (fileExists(faultFile)) throw new Error(`commit failed on purpose (${faultFile} exists)`);
    });
  }

  /** True when the committed checkpoint already covers `last`. */
  async #committedAlready(last: bigint): Promise<boolean> {
    const cp = await new CheckpointStore(this.#kafka, this.#cfg.slotName).readLatest(
      this.#producer,
    );
    return cp !== null && cp >= last;
  }

  async #refreshTopics(): Promise<boolean> {
    if (Date.now() - this.#topicsFetchedAt < 10_000) return false;
    this.#topicsFetchedAt = Date.now();
    const admin = new Admin(this.#kafka);
    await admin.connect();
    try {
      this.#knownTopics = new Set(await admin.listTopics());
      return true;
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Confirms the durable position every second from the moment the stream
   * starts: it is also our answer to the server's keepalives, and a silent
   * reader loses the slot after wal_sender_timeout (5 s, infra/postgres.sh).
   * Confirming a position below the slot's current one changes nothing.
   */
  #startAcknowledging(): void {
    this.#timers.push(setInterval(() => {
      this.#reader.acknowledge(this.durableLsn).catch(() => {});
      if (this.#ready) {
        this.#saveProgress().catch((err) =>
          this.#log.warn("saving progress failed", { error: err })
        );
      }
    }, 1_000));
  }

  /** Removes published outbox rows past their retention (the event store's upkeep). */
  async #cleanup(): Promise<void> {
    const deleted = await cleanupOutbox(this.#sql, {
      retentionMs: this.#cfg.retentionMs,
      slotName: this.#cfg.slotName,
    });
    const total = Object.values(deleted).reduce((a, b) => a + b, 0);
    if (total > 0) this.#log.info("outbox retention: rows removed", { deleted });
  }

  #startTimers(): void {
    this.#timers.push(setInterval(() => {
      this.#cleanup().catch((err) => this.#log.warn("outbox retention failed", { error: err }));
    }, this.#cfg.cleanupIntervalMs));
    this.#timers.push(setInterval(() => {
      this.#sql`insert into relay.heartbeat default values`.catch((err) =>
        this.#log.warn("heartbeat failed", { error: err })
      );
    }, this.#cfg.heartbeatMs));
    this.#timers.push(setInterval(() => {
      this.#sql<{ behind: string | null }[]>`
        select pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text as behind
        from pg_replication_slots where slot_name = ${this.#cfg.slotName}`
        .then(([r]) => {
          const behind = r?.behind == null ? null : Number(r.behind);
          this.#setWalBehind(behind);
          if (behind !== null) this.#metrics.walBytesBehind.set(behind);
          this.#metrics.oldestUnpublishedAge.set(this.oldestUnpublishedAge());
        })
        .catch(() => {});
    }, 2_000));
  }

  /** Records the confirmed position for operators and the outbox cleanup job. */
  async #saveProgress(): Promise<void> {
    if (this.durableLsn === this.#progressSaved.lsn || this.durableLsn === 0n) return;
    const lsn = this.durableLsn;
    await this.#sql`
      insert into relay.progress (slot_name, confirmed_lsn, published_until, updated_at)
      values (${this.#cfg.slotName}, ${formatLsn(lsn)}, ${this.#publishedUntil}, now())
      on conflict (slot_name) do update
        set confirmed_lsn = excluded.confirmed_lsn,
            published_until = coalesce(excluded.published_until, relay.progress.published_until),
            updated_at = now()`;
    this.#progressSaved.lsn = lsn;
    // Old heartbeat rows are of no use once their position is confirmed.
    await this.#sql`delete from relay.heartbeat where beat_at < now() - interval '10 minutes'`;
  }
}
