/**
 * Producers with exactly-once settings (SPEC §10.1, §11.1.1): acks=all, one
 * request in flight (lz4 is applied by the brokers, see lz4.ts). The transactional producer runs one transaction at
 * a time (kafkajs #430/#1315) and, after any error, throws its kafkajs
 * producer away and makes a new one (Jepsen found reuse after errors of
 * unknown outcome can lose writes, NOTES.md).
 *
 * Why the transactional producer turns kafkajs' internal retries off: in
 * kafkajs 2.2.4 `sendMessages` sends one request per leader broker and, when
 * one of them fails, retries while another may still be in flight; the retry
 * re-sends that broker's records with a sequence number already advanced, so
 * the broker stores them twice. Our platform test caught this as duplicates
 * after a broker SIGKILL. Inside a transaction those duplicates would be
 * committed. With retries off, any failed send fails the transaction; it is
 * aborted (or fenced by the next producer's init) and the caller sends the
 * whole batch again in a new one.
 *
 * Every send is cut into produce requests in which no partition's record
 * batch exceeds a byte budget (`maxPartitionBatchBytes`, 512 KiB by default;
 * partition_budget.ts), sent one after another: the brokers refuse a batch
 * over `message.max.bytes` (~1 MiB), and a sender that retries the same
 * refused batch never gets further (issue #15). The plain idempotent producer keeps
 * kafkajs' retries (it requires them) and so can duplicate under broker
 * failure: use it only where a duplicate is harmless.
 *
 * @module
 */
import kafkajs from "./kafkajs.ts";
import { Buffer } from "node:buffer";
import type { KafkaJs } from "./client.ts";
import { DEFAULT_PARTITION_BATCH_BYTES, type TopicBatch } from "./partition_budget.ts";
import { RequestPlanner } from "./request_planner.ts";

export type { TopicBatch } from "./partition_budget.ts";

const { CompressionTypes } = kafkajs;

type RawProducer = ReturnType<KafkaJs["producer"]>;

/** Consumer offsets committed atomically with a transaction (consume-transform-produce). */
export interface TransactionOffsets {
  consumerGroupId: string;
  topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
}

/** Client-side compression; topics compress with lz4 on the brokers (lz4.ts). */
export type Compression = "gzip" | "none";

/** What a transaction's body can do. */
export interface TransactionScope {
  send(batches: TopicBatch[]): Promise<void>;
  sendOffsets(offsets: TransactionOffsets): Promise<void>;
}

const CODECS = {
  gzip: CompressionTypes.GZIP,
  none: CompressionTypes.None,
} as const;

/**
 * kafkajs sizes a value with Buffer semantics; a plain Uint8Array (as our
 * consumers hand out) is mis-sized and the broker rejects the batch ("Invalid
 * record size"), so binary values become Buffers here.
 */
function toKafkaJs(batches: TopicBatch[]) {
  return batches.map((b) => ({
    topic: b.topic,
    messages: b.messages.map((m) => ({
      key: m.key,
      value: m.value instanceof Uint8Array && !Buffer.isBuffer(m.value)
        ? Buffer.from(m.value.buffer, m.value.byteOffset, m.value.byteLength)
        : m.value as string | Buffer | null,
      headers: m.headers,
      partition: m.partition,
    })),
  }));
}

/**
 * Idempotent producer without transactions: acks=all, nothing acknowledged is
 * lost; may store a record twice when a broker dies mid-send (see above).
 */
export class IdempotentProducer {
  #producer: RawProducer;
  #compression: Compression;
  #planner: RequestPlanner;

  constructor(
    kafka: KafkaJs,
    opts: { compression?: Compression; maxPartitionBatchBytes?: number } = {},
  ) {
    this.#producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    this.#compression = opts.compression ?? "none";
    this.#planner = new RequestPlanner(kafka, opts.maxPartitionBatchBytes);
  }

  connect(): Promise<void> {
    return this.#producer.connect();
  }

  /**
   * Sends and resolves once all in-sync replicas have the records. A send
   * over the budget goes as several requests, not atomically: when one fails,
   * the earlier ones are written (send again; consumers dedupe).
   */
  async send(...batches: TopicBatch[]): Promise<void> {
    await sendPlanned(this.#planner, batches, (request) =>
      this.#producer.sendBatch({
        topicMessages: toKafkaJs(request),
        acks: -1,
        compression: CODECS[this.#compression],
      }));
  }

  disconnect(): Promise<void> {
    return this.#producer.disconnect();
  }
}

/** Sends `batches` as the planner's requests, one at a time (each partition's order kept). */
async function sendPlanned(
  planner: RequestPlanner,
  batches: TopicBatch[],
  sendRequest: (request: TopicBatch[]) => Promise<unknown>,
): Promise<void> {
  for (const request of await planner.plan(batches)) await sendRequest(request);
}

/** Raised when another producer with our transactional id has taken over. */
export class ProducerFencedError extends Error {
  override name = "ProducerFencedError";
}

/**
 * Raised by a producer used after close(). A new kafkajs producer would
 * register the transactional id again and fence whoever holds it now: the
 * owner of a closed producer (a relay session that ended) must not.
 */
export class ProducerClosedError extends Error {
  override name = "ProducerClosedError";
}

/** True when `err`, or an error it wraps, is a Kafka protocol error of one of `types`. */
function hasKafkaErrorType(err: unknown, types: ReadonlySet<string>): boolean {
  let e = err as { type?: string; cause?: unknown; originalError?: unknown } | undefined;
  for (let depth = 0; e && depth < 5; depth++) {
    if (e.type && types.has(e.type)) return true;
    e = (e.originalError ?? e.cause) as typeof e;
  }
  return false;
}

const FENCED_TYPES = new Set([
  "INVALID_PRODUCER_EPOCH",
  "PRODUCER_FENCED",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
]);

/** True for errors that mean a newer instance owns the transactional id. */
export function isFencingError(err: unknown): boolean {
  return hasKafkaErrorType(err, FENCED_TYPES);
}

const CONCURRENT_TYPES = new Set(["CONCURRENT_TRANSACTIONS"]);

/**
 * The coordinator is still finishing the previous transaction (writing its
 * markers) and refused to add partitions to the next one. Nothing was
 * produced by the refused request: an outcome we know, unlike a timeout.
 */
export function isConcurrentTransactionsError(err: unknown): boolean {
  return hasKafkaErrorType(err, CONCURRENT_TYPES);
}

/** The consumer group of the empty offset commit that opens each transaction. */
export const TRANSACTION_GATE_GROUP = "kafka-transaction-gate";

export interface TransactionalProducerOptions {
  transactionalId: string;
  compression?: Compression;
  /** Broker aborts a transaction left open longer than this (default 30 s). */
  transactionTimeoutMs?: number;
  /** The most bytes of one partition's records in one produce request (default 512 KiB). */
  maxPartitionBatchBytes?: number;
}

/**
 * A transactional producer: each `commit()` call is one Kafka transaction,
 * all of its records visible to read_committed consumers or none.
 */
export class TransactionalProducer {
  #kafka: KafkaJs;
  #opts: Required<TransactionalProducerOptions>;
  #producer: RawProducer | null = null;
  #busy = false;
  #planner: RequestPlanner;
  #closed = false;

  constructor(kafka: KafkaJs, opts: TransactionalProducerOptions) {
    this.#kafka = kafka;
    this.#opts = {
      compression: "none",
      transactionTimeoutMs: 30_000,
      maxPartitionBatchBytes: DEFAULT_PARTITION_BATCH_BYTES,
      ...opts,
    };
    this.#planner = new RequestPlanner(kafka, this.#opts.maxPartitionBatchBytes);
  }

  get transactionalId(): string {
    return this.#opts.transactionalId;
  }

  /** False before the first connect() and after an error (the next call makes a new producer). */
  get connected(): boolean {
    return this.#producer !== null;
  }

  /**
   * Connects and registers the transactional id (fencing older instances).
   * Throws ProducerClosedError after close().
   */
  async connect(): Promise<void> {
    this.#assertOpen();
    if (this.#producer) return;
    const p = this.#kafka.producer({
      transactionalId: this.#opts.transactionalId,
      // Transactions always send idempotently (producer id, epoch, sequence
      // numbers); `idempotent: false` here only lets us set retries to 0,
      // which kafkajs refuses for its idempotent send path (see above).
      idempotent: false,
      retry: { retries: 0 },
      maxInFlightRequests: 1,
      transactionTimeout: this.#opts.transactionTimeoutMs,
    });
    await p.connect();
    if (this.#closed) {
      await p.disconnect().catch(() => {});
      this.#assertOpen();
    }
    this.#producer = p;
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new ProducerClosedError(
        `producer of ${this.#opts.transactionalId} is closed; it never connects again`,
      );
    }
  }

  /**
   * Writes all batches (and optional consumer offsets) in one transaction.
   */
  commit(batches: TopicBatch[], offsets?: TransactionOffsets): Promise<void> {
    return this.transaction(async (tx) => {
      await tx.send(batches);
      if (offsets) await tx.sendOffsets(offsets);
    });
  }

  /**
   * Runs `work` inside one Kafka transaction: committed when it resolves,
   * aborted when it throws (the error is rethrown). On any error the
   * underlying producer is discarded; the next call starts a fresh one. A
   * fencing error is rethrown as ProducerFencedError: this instance must stop.
   */
  async transaction(work: (tx: TransactionScope) => Promise<void>): Promise<void> {
    if (this.#busy) throw new Error("one transaction at a time per producer");
    this.#busy = true;
    try {
      await this.connect();
      const tx = await this.#openTransaction();
      try {
        await work({
          send: (batches) =>
            sendPlanned(this.#planner, batches, (request) =>
              tx.sendBatch({
                topicMessages: toKafkaJs(request),
                acks: -1,
                compression: CODECS[this.#opts.compression],
              })),
          sendOffsets: (offsets) => tx.sendOffsets(offsets),
        });
        await tx.commit();
      } catch (err) {
        await tx.abort().catch(() => {});
        throw err;
      }
    } catch (err) {
      // Whatever failed may hide a produce request of unknown outcome, or
      // one kafkajs gave up on while a sibling request to another broker
      // was still in flight (its sequence numbers are then wrong): only a
      // new producer (a new epoch) is safe. Our relay test of a saga load
      // lost events when we reused the producer after such a failure.
      await this.reset();
      if (isFencingError(err)) {
        throw new ProducerFencedError(
          `transactional id ${this.#opts.transactionalId} was taken over by a newer producer`,
          { cause: err },
        );
      }
      throw err;
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Begins a transaction once the coordinator has finished the previous one.
   *
   * Right after a commit the coordinator is still writing its markers and
   * refuses to add partitions (CONCURRENT_TRANSACTIONS). kafkajs adds
   * partitions per broker while producing, concurrently, so that refusal
   * would come in the middle of a send. Instead, the transaction first adds
   * an (empty) offset commit for a gate group: a coordinator-only request
   * that produces nothing, so it can simply be retried on the same producer
   * until the coordinator is ready; after it, the transaction is ongoing and
   * adding partitions is never refused for that reason.
   */
  async #openTransaction() {
    for (let attempt = 1;; attempt++) {
      const tx = await this.#producer!.transaction();
      try {
        await tx.sendOffsets({ consumerGroupId: TRANSACTION_GATE_GROUP, topics: [] });
        return tx;
      } catch (err) {
        await tx.abort().catch(() => {});
        if (!isConcurrentTransactionsError(err) || attempt >= 500) throw err;
        await new Promise((r) => setTimeout(r, Math.min(2 * attempt, 20)));
      }
    }
  }

  /** Drops the current kafkajs producer (after an error of unknown outcome). */
  async reset(): Promise<void> {
    const p = this.#producer;
    this.#producer = null;
    if (p) await p.disconnect().catch(() => {});
  }

  disconnect(): Promise<void> {
    return this.reset();
  }

  /** Disconnects for good: every later call throws ProducerClosedError. */
  close(): Promise<void> {
    this.#closed = true;
    return this.reset();
  }
}
