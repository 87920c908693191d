/**
 * A consumer with manual commits (SPEC §7.1): an offset is committed only
 * after the handler for that message has returned, so a crash redelivers
 * rather than loses. Reads only committed transactional records by default.
 *
 * Commits are batched: the offsets handled since the last commit go to the
 * group coordinator together, in one OffsetCommit request for every
 * partition, at most every `commitIntervalMs` (and when the consumer
 * stops). Each commit is a replicated write on three brokers; one per
 * handled batch made offset commits the busiest request of the cluster under
 * saga load (issue #5). The price is a few more redeliveries after a crash or
 * a rebalance — up to one interval's worth — which the services' inboxes turn
 * into no-ops (SPEC §4.5).
 *
 * @module
 */
import type { KafkaJs } from "./client.ts";
import { decodeHeaders, type IncomingMessage } from "./message.ts";

type RawConsumer = ReturnType<KafkaJs["consumer"]>;

export interface ConsumerOptions {
  groupId: string;
  topics: string[];
  /** Where a group with no committed offset starts (default: earliest). */
  fromBeginning?: boolean;
  /** read_committed (default) hides aborted and open transactions. */
  readUncommitted?: boolean;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** Max bytes per partition per fetch; smaller means smaller batches. */
  maxBytesPerPartition?: number;
  /**
   * How long a fetch waits for data when there is none (default 1 s; kafkajs'
   * own is 5 s). A waiting fetch returns as soon as a record is committed, so
   * this does not delay delivery: it bounds the empty polls, each a request
   * to every broker (a 100 ms wait made the order notifiers Kafka's busiest
   * clients, issue #5). A consumer's stop waits for its fetch in flight.
   * Measured (bench/consumer_wake.ts, issue #16): commit → batch handler p50
   * ~5 ms with a 1 s or a 5 s wait, no better with 5 ms polls; kafkajs runs
   * one fetch loop per broker, so a long poll to one broker delays no other.
   */
  maxWaitTimeMs?: number;
  /**
   * Partitions whose batches are handled at the same time (kafkajs
   * `partitionsConsumedConcurrently`, default 1). Within a partition messages
   * stay one at a time, in order, each committed after its handler.
   */
  partitionsConcurrently?: number;
  /**
   * Handled offsets are committed together at most this often (default
   * 1000 ms; 0 commits after every batch, as each partition's batch ends).
   */
  commitIntervalMs?: number;
}

/** What a handler may use besides the message. */
export interface MessageContext {
  /** Tells the group this member is alive; call it during long work (retries). */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping (or lost the partition). */
  isRunning(): boolean;
}

/**
 * Called for each message, in partition order; throw to stop the partition's
 * progress. Resolving to `false` leaves the message unacknowledged and ends
 * its batch there: the message is delivered again (to this consumer or,
 * after a stop or rebalance, to the next owner of the partition).
 */
export type MessageHandler = (
  message: IncomingMessage,
  context: MessageContext,
) => Promise<void | boolean>;

/**
 * Called for each fetched batch of one partition (its messages in partition
 * order, at least one); resolves to how many messages from the START of the
 * array are acknowledged: their offsets are committed, the rest (a stop, a
 * rebalance, a failure) are delivered again, to this consumer or the
 * partition's next owner. Throw to stop the partition's progress (nothing of
 * the batch is acknowledged).
 */
export type BatchHandler = (
  messages: IncomingMessage[],
  context: MessageContext,
) => Promise<number>;

export class Consumer {
  #consumer: RawConsumer;
  #opts: ConsumerOptions;
  #commitIntervalMs: number;
  /** Next offset to commit per `topic\0partition`: handled, not yet committed. */
  #pending = new Map<string, { topic: string; partition: number; offset: string }>();
  #lastCommit = 0;
  #committing: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Batches being handled right now, and who waits for them to end. */
  #active = 0;
  #idle: (() => void) | null = null;
  #closing = false;

  constructor(kafka: KafkaJs, opts: ConsumerOptions) {
    this.#opts = opts;
    this.#commitIntervalMs = opts.commitIntervalMs ?? 1_000;
    this.#consumer = kafka.consumer({
      groupId: opts.groupId,
      readUncommitted: opts.readUncommitted ?? false,
      sessionTimeout: opts.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: opts.heartbeatIntervalMs ?? 1_000,
      maxBytesPerPartition: opts.maxBytesPerPartition,
      maxWaitTimeInMs: opts.maxWaitTimeMs ?? 1_000,
      allowAutoTopicCreation: false,
    });
    // After a rebalance, offsets of partitions this member no longer owns
    // are not ours to commit: the next owner redelivers those messages.
    this.#consumer.on(this.#consumer.events.GROUP_JOIN, (e) => {
      const owned = new Set<string>();
      for (const [topic, partitions] of Object.entries(e.payload.memberAssignment)) {
        for (const partition of partitions as number[]) owned.add(`${topic}\0${partition}`);
      }
      for (const key of this.#pending.keys()) if (!owned.has(key)) this.#pending.delete(key);
    });
  }

  /**
   * Connects, subscribes and starts delivering messages to `handler`, one at
   * a time (on top of {@link runBatches}): a message is acknowledged once its
   * handler resolves to anything but `false`.
   * `commit: false` reads without ever committing offsets (a reader that
   * always starts from the beginning).
   */
  run(handler: MessageHandler, opts: { commit?: boolean } = {}): Promise<void> {
    return this.runBatches(async (messages, context) => {
      let acknowledged = 0;
      for (const message of messages) {
        if (!context.isRunning()) break;
        if (await handler(message, context) === false) break;
        acknowledged++;
        await context.heartbeat();
      }
      return acknowledged;
    }, opts);
  }

  /**
   * Connects, subscribes and starts delivering each partition's fetched
   * batches to `handler`, which says how many of a batch's messages (a
   * prefix) are acknowledged; their offsets go to the next (batched) commit.
   * `commit: false` reads without ever committing offsets.
   */
  async runBatches(handler: BatchHandler, opts: { commit?: boolean } = {}): Promise<void> {
    const commit = opts.commit ?? true;
    await this.#consumer.connect();
    await this.#consumer.subscribe({
      topics: this.#opts.topics,
      fromBeginning: this.#opts.fromBeginning ?? true,
    });
    if (commit && this.#commitIntervalMs > 0) {
      // The tail of a burst is committed even when no batch follows it.
      this.#timer = setInterval(() => this.#flushIfDue(), this.#commitIntervalMs);
    }
    if (commit) this.#commitPastFilteredBatches();
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.#opts.partitionsConcurrently ?? 1,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        if (this.#closing) return; // left unresolved: redelivered to the next owner
        this.#active++;
        try {
          const context: MessageContext = {
            heartbeat: () => heartbeat(),
            isRunning: () => isRunning() && !isStale() && !this.#closing,
          };
          if (batch.messages.length === 0 || !context.isRunning()) return;
          const messages: IncomingMessage[] = batch.messages.map((m) => ({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key ? m.key.toString("utf8") : null,
            value: m.value ? new Uint8Array(m.value) : null,
            headers: decodeHeaders(m.headers as Record<string, unknown>),
            timestamp: Number(m.timestamp),
          }));
          const acknowledged = await handler(messages, context);
          if (!Number.isInteger(acknowledged) || acknowledged < 0) {
            throw new TypeError(`a batch handler acknowledged ${acknowledged} messages`);
          }
          if (acknowledged === 0) return;
          // All acknowledged: the batch's last offset, which counts the
          // commit markers and aborted records fetched with it (see
          // #commitPastFilteredBatches).
          const last = acknowledged >= messages.length
            ? batch.lastOffset()
            : messages[acknowledged - 1].offset;
          resolveOffset(last);
          if (commit) {
            this.#pending.set(`${batch.topic}\0${batch.partition}`, {
              topic: batch.topic,
              partition: batch.partition,
              offset: (BigInt(last) + 1n).toString(),
            });
            if (Date.now() - this.#lastCommit >= this.#commitIntervalMs) await this.#flush();
          }
        } finally {
          if (--this.#active === 0) this.#idle?.();
        }
      },
    });
  }

  /**
   * A transaction's commit marker takes an offset of its own, after the
   * transaction's last record. kafkajs skips a fetched batch of nothing but
   * markers (or aborted records) without calling the handler and leaves its
   * offset to autoCommit, which this consumer turns off: the group's offset
   * would stay on the marker, `kafka_consumer_lag` would read 1 per partition
   * at rest and a restart would fetch the marker again. So the offset after
   * such a batch is committed like a handled one. The batch comes only after
   * every record before it was acknowledged (the fetch position is the last
   * acknowledged offset + 1).
   */
  #commitPastFilteredBatches(): void {
    this.#consumer.on(this.#consumer.events.END_BATCH_PROCESS, (e) => {
      const { topic, partition, batchSize, lastOffset } = e.payload;
      if (this.#closing || batchSize !== 0 || lastOffset === null) return;
      const key = `${topic}\0${partition}`;
      const next = BigInt(lastOffset) + 1n;
      const pending = this.#pending.get(key);
      if (pending && BigInt(pending.offset) >= next) return;
      this.#pending.set(key, { topic, partition, offset: next.toString() });
      this.#flushIfDue();
    });
  }

  #flushIfDue(): void {
    if (this.#pending.size > 0 && Date.now() - this.#lastCommit >= this.#commitIntervalMs) {
      this.#flush().catch(() => {});
    }
  }

  /**
   * Commits every handled offset not yet committed, in one request; one
   * commit at a time. A refused commit (a rebalance under way, a
   * coordinator moving) puts its offsets back unless newer ones arrived.
   */
  #flush(): Promise<void> {
    this.#committing = this.#committing.then(async () => {
      if (this.#pending.size === 0) return;
      const offsets = [...this.#pending.values()];
      this.#pending.clear();
      this.#lastCommit = Date.now();
      try {
        await this.#consumer.commitOffsets(offsets);
      } catch {
        for (const o of offsets) {
          const key = `${o.topic}\0${o.partition}`;
          if (!this.#pending.has(key)) this.#pending.set(key, o);
        }
      }
    });
    return this.#committing;
  }

  /**
   * Moves a partition's next fetch to `offset` (after `run()`): a reader
   * that starts at known positions. A batch fetched before the seek may
   * still be delivered.
   */
  seek(topic: string, partition: number, offset: bigint): void {
    this.#consumer.seek({ topic, partition, offset: offset.toString() });
  }

  pause(topics: string[]): void {
    this.#consumer.pause(topics.map((topic) => ({ topic })));
  }

  resume(topics: string[]): void {
    this.#consumer.resume(topics.map((topic) => ({ topic })));
  }

  /**
   * Stops handling (a batch in hand finishes its message in hand), commits
   * what was handled, and leaves the group.
   */
  async disconnect(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#timer);
    if (this.#active > 0) await new Promise<void>((r) => (this.#idle = r));
    await this.#flush().catch(() => {});
    await this.#consumer.disconnect();
  }
}
