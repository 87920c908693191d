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
 *  4. confirms a position to Postgres only after its Kafka commit, and never
 *     past the checkpoint (an idle relay moves its checkpoint first), so a
 *     slot found ahead of the checkpoint was made by someone else.
 * Any failure tears the session down and starts over from step 0 (crash-only:
 * there is no state that a restart would not rebuild). A session that ended
 * stops at once: its producer is closed for good (a new one would fence the
 * relay that took over), and every commit attempt checks the session first
 * (session_lost.ts). A slot that no longer matches the checkpoint stops the
 * relay until an operator re-baselines (slot_loss.ts, rebaseline.ts).
 *
 * @module
 */
import { cleanupOutbox, connectService, type Sql } from "../db/mod.ts";
import { ensureRelaySlot } from "../db/migrate.ts";
import {
  Admin,
  createKafka,
  type KafkaJs,
  type OutgoingMessage,
  ProducerClosedError,
  ProducerFencedError,
  RELAY_CHECKPOINT_TOPIC,
  RELAY_DLQ_TOPIC,
  type TopicBatch,
  TransactionalProducerPair,
  type TransactionalSender,
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
import { formatLsn, parseLsn } from "./lsn.ts";
import { approximateBytes, toDeadLetter, toRecord } from "./messages.ts";
import { RelayMetrics } from "./metrics.ts";
import { judgeCheckpointAfterRetry, SessionLostError } from "./session_lost.ts";
import {
  assertNotBehindCheckpoint,
  assertSlotNotLost,
  assertSlotNotRecreated,
  type SlotLossReason,
  SlotLostError,
} from "./slot_loss.ts";
import { WalReader, type WalTransaction } from "./wal_reader.ts";

/** `blocked`: the slot does not match the checkpoint; nothing is published (slot_loss.ts). */
export type RelayState = "starting" | "standby" | "active" | "blocked" | "stopped";

/** Raised when another relay holds the slot. */
class SlotBusyError extends Error {
  override name = "SlotBusyError";
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The later of two times (null: unknown). */
function latest(a: Date | null, b: Date | null | undefined): Date | null {
  if (!b) return a;
  return a === null || b > a ? b : a;
}

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
  #blocked: { reason: SlotLossReason; message: string } | null = null;

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
      blocked: this.#blocked,
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
        const session = new Session(
          this.#cfg,
          this.#kafka,
          this.#log,
          this.metrics,
          (state) => {
            // A blocked relay stays blocked until a session has committed again.
            this.#state = this.#blocked && state === "active" ? "blocked" : state;
            this.metrics.active.set(this.#state === "active" ? 1 : 0);
          },
          (behind) => (this.#walBehind = behind),
          () => this.#unblock(),
        );
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
          if (err instanceof SlotLostError) {
            await this.#block(err);
            continue;
          }
          failures++;
          this.#lastError = String((err as Error)?.message ?? err);
          const level = err instanceof ProducerFencedError || err instanceof SessionLostError
            ? "warn"
            : "error";
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

  /** Refuses to publish and says why, then looks again after a while (an operator may have re-baselined). */
  async #block(err: SlotLostError): Promise<void> {
    if (this.#blocked?.reason !== err.reason) {
      this.#log.error("relay refuses to publish: the slot does not match the checkpoint", {
        reason: err.reason,
        error: err,
      });
    }
    this.#blocked = { reason: err.reason, message: err.message };
    this.#lastError = err.message;
    this.#state = "blocked";
    this.metrics.active.set(0);
    this.metrics.blocked.reset();
    this.metrics.blocked.set({ reason: err.reason }, 1);
    await sleep(this.#cfg.blockedPollMs);
  }

  /** After a session's commit: whatever blocked the relay was resolved (rebaseline.ts). */
  #unblock(): void {
    if (!this.#blocked) return;
    this.#log.info("slot and checkpoint match again: publishing");
    this.#blocked = null;
    this.#state = "active";
    this.metrics.active.set(1);
    this.metrics.blocked.reset();
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
  #producer: TransactionalSender;
  #queue: WalTransaction[] = [];
  /** About the bytes of the queued events' records (RELAY_MAX_BUFFERED_BYTES bounds them). */
  #queuedBytes = 0;
  #bytesOf = new WeakMap<WalTransaction, number>();
  #wake: (() => void) | null = null;
  #drained: (() => void) | null = null;
  #interrupted = false;
  #inFlightSince: Date | null = null;
  #knownTopics = new Set<string>();
  #topicsFetchedAt = 0;
  #publishedUntil: Date | null = null;
  #progressSaved = { lsn: -1n };
  /** When the last Kafka transaction began (idle checkpoints wait RELAY_IDLE_CHECKPOINT_MS after it). */
  #lastTransactionAt = 0;
  #timers: ReturnType<typeof setInterval>[] = [];
  /** True once the checkpoint is known and publishing may start. */
  #ready = false;
  #onCommitted: () => void;
  /** The slot's confirmed position when the session began. */
  #slotStart = 0n;
  /** The newest commit time the checkpoint covers (slot_loss.ts). */
  #checkpointCommitTime: Date | null = null;
  /** The newest commit time of the batch being committed, and of everything received. */
  #batchCommitTime: Date | null = null;
  #newestCommitTime: Date | null = null;
  /** Per queued transaction: the newest commit time received up to it (it and all before). */
  #newestUpTo = new WeakMap<WalTransaction, Date>();
  /** Rejected when the session must end at once (a slot loss seen by the WAL reader). */
  #lost = Promise.withResolvers<never>();

  constructor(
    cfg: RelayConfig,
    kafka: KafkaJs,
    log: Logger,
    metrics: RelayMetrics,
    setState: (s: RelayState) => void,
    setWalBehind: (n: number | null) => void,
    onCommitted: () => void,
  ) {
    this.#cfg = cfg;
    this.#onCommitted = onCommitted;
    this.#lost.promise.catch(() => {}); // observed through run()'s race
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
    // Two transactional ids in turn: the next transaction need not wait for
    // the coordinator to finish the previous one's markers (producer_pair.ts).
    this.#producer = new TransactionalProducerPair(kafka, {
      transactionalId: cfg.transactionalId,
      maxPartitionBatchBytes: cfg.maxPartitionBatchBytes,
      transactionTimeoutMs: cfg.transactionTimeoutMs,
    });
  }

  async run(stopping: () => boolean): Promise<void> {
    const slot = await this.#slotBeforeStreaming();
    if (slot.active) throw new SlotBusyError(`slot ${this.#cfg.slotName} is in use`);
    // Until the checkpoint is known, keepalives are answered with the slot's
    // own position: confirming where the slot already is changes nothing, and
    // a reader silent for wal_sender_timeout (5 s) is dropped, however long
    // the checkpoint read takes (issue 15 item 4).
    this.#slotStart = this.durableLsn = slot.confirmed;

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
    const streamEnded = reading.then(() => {
      if (!this.#interrupted) throw new Error("the replication stream ended");
    });
    // A lost stream ends the session at once, not after the relay's back-off.
    streamEnded.catch(() => {}).finally(() => this.interrupt());
    try {
      await Promise.race([start, streamEnded]);
      this.#startAcknowledging();

      // We hold the slot. Fence older instances and learn where Kafka is.
      this.#setState("active");
      if (this.#cfg.testCheckpointDelayMs > 0) await sleep(this.#cfg.testCheckpointDelayMs);
      const cp = await new CheckpointStore(this.#kafka, this.#cfg.slotName).readLatest(
        this.#producer,
      );
      assertSlotNotRecreated(this.#cfg.slotName, this.#slotStart, cp);
      this.checkpoint = cp?.lsn ?? null;
      this.#checkpointCommitTime = cp?.commitTime ?? null;
      // What arrived while starting is checked now that the checkpoint is known.
      for (const tx of this.#queue) assertNotBehindCheckpoint(tx, this.#checkpointState());
      this.#log.info("relay active", {
        slot: this.#cfg.slotName,
        checkpoint: this.checkpoint === null ? null : formatLsn(this.checkpoint),
      });
      await this.#refreshTopics();
      this.#startTimers();
      this.#ready = true;

      await Promise.race([streamEnded, this.#publishLoop(stopping), this.#lost.promise]);
    } finally {
      this.interrupt();
    }
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
    await this.#producer.close();
    await this.#sql.end({ timeout: 2 }).catch(() => {});
  }

  oldestUnpublishedAge(): number {
    const first = this.#inFlightSince ??
      this.#queue.find((t) => t.events.length > 0)?.events[0].createdAt;
    return first ? Math.max(0, (Date.now() - first.getTime()) / 1000) : 0;
  }

  /**
   * The slot's state before streaming. A missing slot is made only on a first
   * start: once a relay has published through it (relay.progress), making it
   * again would silently skip what committed meanwhile (slot_loss.ts).
   */
  async #slotBeforeStreaming(): Promise<{ active: boolean; confirmed: bigint }> {
    const name = this.#cfg.slotName;
    const find = () =>
      this.#sql<{ active: boolean; confirmed: string | null }[]>`
        select active, confirmed_flush_lsn::text as confirmed
        from pg_replication_slots where slot_name = ${name}`;
    let [slot] = await find();
    if (!slot) {
      const [progress] = await this.#sql<{ confirmedLsn: string; updatedAt: Date }[]>`
        select confirmed_lsn::text as "confirmedLsn", updated_at as "updatedAt"
        from relay.progress where slot_name = ${name}`;
      assertSlotNotLost(name, false, progress ?? null);
      if (await ensureRelaySlot(this.#sql, name)) {
        this.#log.info("created replication slot", { slot: name });
      }
      [slot] = await find();
    }
    if (!slot?.confirmed) throw new Error(`replication slot ${name} vanished while starting`);
    return { active: slot.active, confirmed: parseLsn(slot.confirmed) };
  }

  /** Called by the WAL reader for each transaction; waits while the buffer is full. */
  async #offer(tx: WalTransaction): Promise<void> {
    if (this.#newestCommitTime === null || tx.commitTime > this.#newestCommitTime) {
      this.#newestCommitTime = tx.commitTime;
    }
    this.#newestUpTo.set(tx, this.#newestCommitTime);
    if (this.#ready && !this.#notBehindCheckpoint(tx)) return;
    const bytes = tx.events.reduce((sum, row) => sum + approximateBytes(row), 0);
    this.#bytesOf.set(tx, bytes);
    while (
      this.#queue.length > 0 && !this.#interrupted &&
      (this.queuedEvents >= this.#cfg.maxBufferedEvents ||
        this.#queuedBytes + bytes > this.#cfg.maxBufferedBytes)
    ) {
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
    this.#queuedBytes += bytes;
    this.#wake?.();
  }

  /** True, or false after ending the session: `tx` is at or below a checkpoint that cannot cover it. */
  #notBehindCheckpoint(tx: WalTransaction): boolean {
    try {
      assertNotBehindCheckpoint(tx, this.#checkpointState());
      return true;
    } catch (err) {
      this.interrupt();
      this.#lost.reject(err);
      return false;
    }
  }

  #checkpointState() {
    return { lsn: this.checkpoint, commitTime: this.#checkpointCommitTime };
  }

  /**
   * The position Postgres may forget: durable here, and recorded as the
   * checkpoint (or where the slot already was). Never past the checkpoint,
   * so that a slot ahead of it can only be one someone else made.
   */
  #confirmable(): bigint {
    const recorded = this.#recordedPosition();
    return this.durableLsn < recorded ? this.durableLsn : recorded;
  }

  /** The checkpoint, or where the slot was when we began if that is later. */
  #recordedPosition(): bigint {
    return this.checkpoint !== null && this.checkpoint > this.#slotStart
      ? this.checkpoint
      : this.#slotStart;
  }

  /** See WalReader: a keepalive position is durable when nothing is pending here. */
  #onKeepalive(idleAt: bigint | null, replyNow: boolean): void {
    if (
      idleAt !== null && this.#ready && this.#queue.length === 0 && this.#inFlightSince === null
    ) {
      if (idleAt > this.durableLsn) this.durableLsn = idleAt;
    }
    if (replyNow) this.#reader.acknowledge(this.#confirmable()).catch(() => {});
  }

  async #publishLoop(stopping: () => boolean): Promise<void> {
    while (!stopping() && !this.#interrupted) {
      if (this.#queue.length === 0) {
        await new Promise<void>((r) => {
          this.#wake = r;
          setTimeout(r, 500);
        });
        this.#wake = null;
        await this.#checkpointIdlePosition();
        continue;
      }
      // Group commit: this loop runs one Kafka transaction at a time, and
      // whatever arrived while the last one committed is the next batch. No
      // pacing: at low load an event goes at once, at high load batches grow
      // with the time a commit takes (issue #16). RELAY_LINGER_MS (0) can
      // still make a batch wait for more.
      if (this.#cfg.lingerMs > 0 && this.queuedEvents < this.#cfg.maxBatchEvents) {
        await sleep(this.#cfg.lingerMs);
        if (this.#interrupted) break; // the session may have ended during the sleep
      }
      this.#lastTransactionAt = Date.now();
      const batch = this.#takeBatch();
      this.#batchCommitTime = latest(
        this.#checkpointCommitTime,
        this.#newestUpTo.get(batch.at(-1)!),
      );
      await this.#publish(batch);
    }
  }

  /**
   * Whole Postgres transactions, up to RELAY_MAX_BATCH_EVENTS events and
   * about RELAY_MAX_BATCH_BYTES bytes (the first one whatever its size).
   */
  #takeBatch(): WalTransaction[] {
    let taken = 0;
    let n = 0;
    let bytes = 0;
    for (const next of this.#queue) {
      const size = this.#bytesOf.get(next) ?? 0;
      if (
        taken > 0 &&
        (n + next.events.length > this.#cfg.maxBatchEvents ||
          bytes + size > this.#cfg.maxBatchBytes)
      ) break;
      taken++;
      n += next.events.length;
      bytes += size;
    }
    const batch = this.#queue.splice(0, taken);
    this.queuedEvents -= n;
    this.#queuedBytes -= bytes;
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
      messages: [
        checkpoints.record({ lsn: last, commitTime: this.#batchCommitTime }, this.#cfg.instanceId),
      ],
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

  /**
   * Idle past the checkpoint (heartbeats, keepalives): records that position
   * as the checkpoint, alone in a transaction, so that it may be confirmed to
   * Postgres (#confirmable). At most once per RELAY_IDLE_CHECKPOINT_MS.
   */
  async #checkpointIdlePosition(): Promise<void> {
    if (!this.#ready || this.#interrupted || this.#queue.length > 0) return;
    const last = this.durableLsn;
    if (last <= this.#recordedPosition()) return;
    if (Date.now() - this.#lastTransactionAt < this.#cfg.idleCheckpointMs) return;
    this.#lastTransactionAt = Date.now();
    this.#batchCommitTime = latest(this.#checkpointCommitTime, this.#newestCommitTime);
    const checkpoints = new CheckpointStore(this.#kafka, this.#cfg.slotName);
    await this.#commitWithRetry([{
      topic: RELAY_CHECKPOINT_TOPIC,
      messages: [
        checkpoints.record({ lsn: last, commitTime: this.#batchCommitTime }, this.#cfg.instanceId),
      ],
    }], last);
  }

  /**
   * Commits `batches` (ending at WAL position `last`), retrying until it is in
   * Kafka. Each attempt first checks the session; an attempt after a failure
   * makes a new producer, whose registration fences whoever holds the
   * transactional id, so it first checks that we still hold the slot, and
   * then lets the checkpoint decide (session_lost.ts).
   */
  async #commitWithRetry(batches: TopicBatch[], last: bigint, spans: Span[] = []): Promise<void> {
    for (let attempt = 1;; attempt++) {
      try {
        this.#assertSession();
        // A failed commit may have committed after all (the coordinator's
        // broker died after taking the EndTxn): sending the batch again would
        // publish it twice (found by the chaos run, chaos/). The checkpoint,
        // read back through the renewed producer (which first lets that
        // transaction finish), says whether it did.
        if (attempt > 1 || !this.#producer.connected) await this.#assertHoldsSlot();
        if (attempt > 1 && await this.#committedAlready(last)) return this.#committed(last);
        this.#assertSession();
        await this.#commitOnce(batches);
        return this.#committed(last);
      } catch (err) {
        if (
          err instanceof ProducerFencedError || err instanceof SessionLostError ||
          err instanceof ProducerClosedError || this.#interrupted
        ) throw err;
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

  #committed(last: bigint): void {
    this.checkpoint = last;
    this.#checkpointCommitTime = this.#batchCommitTime;
    this.#onCommitted();
  }

  #assertSession(): void {
    if (this.#interrupted) throw new SessionLostError("the relay session has ended");
  }

  /** Throws SessionLostError unless our replication connection still holds the slot. */
  async #assertHoldsSlot(): Promise<void> {
    const mine = this.#reader.backendPid;
    const [row] = await this.#sql<{ pid: number | null }[]>`
      select active_pid as pid from pg_replication_slots where slot_name = ${this.#cfg.slotName}`;
    if (mine !== null && row?.pid === mine) return;
    this.interrupt();
    throw new SessionLostError(
      `slot ${this.#cfg.slotName} is no longer ours (held by ${
        row?.pid ?? "nobody"
      }, we were ${mine})`,
    );
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

  /**
   * After a failed attempt: true when the checkpoint read back through a new
   * producer shows the batch ending at `last` committed; throws when another
   * relay moved it (session_lost.ts).
   */
  async #committedAlready(last: bigint): Promise<boolean> {
    const read = await new CheckpointStore(this.#kafka, this.#cfg.slotName).readLatest(
      this.#producer,
    );
    return judgeCheckpointAfterRetry(this.checkpoint, read?.lsn ?? null, last) === "committed";
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
      this.#reader.acknowledge(this.#confirmable()).catch(() => {});
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
    const lsn = this.#confirmable();
    if (lsn === this.#progressSaved.lsn || lsn === 0n) return;
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
