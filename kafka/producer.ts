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
import kafkajs, { takeTransactionalInternals, type TransactionalInternals } from "./kafkajs.ts";
import { Buffer } from "node:buffer";
import type { KafkaJs } from "./client.ts";
import {
  DEFAULT_PARTITION_BATCH_BYTES,
  partitionerFor,
  type TopicBatch,
} from "./partition_budget.ts";
import { addTransactionPartitions, CoordinatorReadiness } from "./transaction_partitions.ts";
import { RequestPlanner } from "./request_planner.ts";

export type { TopicBatch } from "./partition_budget.ts";

const { CompressionTypes } = kafkajs;

type RawProducer = ReturnType<KafkaJs["producer"]>;

/** A transaction's body that sends `batches` and then `offsets`, if any. */
export function sendingAll(
  batches: TopicBatch[],
  offsets?: TransactionOffsets,
): (tx: TransactionScope) => Promise<void> {
  return async (tx) => {
    await tx.send(batches);
    if (offsets) await tx.sendOffsets(offsets);
  };
}

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

export {
  isConcurrentTransactionsError,
  isFencingError,
  ProducerClosedError,
  ProducerFencedError,
} from "./producer_errors.ts";
import { isFencingError, ProducerClosedError, ProducerFencedError } from "./producer_errors.ts";

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
  #partitionOf = partitionerFor();
  #internals: TransactionalInternals | null = null;
  #readiness = new CoordinatorReadiness();
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
    return this.transaction(sendingAll(batches, offsets));
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
      const tx = await this.#begin();
      try {
        await work({
          send: async (batches) => {
            const requests = await this.#planner.plan(batches);
            await addTransactionPartitions(
              this.#internals!,
              requests,
              this.#partitionOf,
              this.#readiness,
            );
            for (const request of requests) {
              await tx.sendBatch({
                topicMessages: toKafkaJs(request),
                acks: -1,
                compression: CODECS[this.#opts.compression],
              });
            }
          },
          sendOffsets: (offsets) => tx.sendOffsets(offsets),
        });
        await tx.commit();
        this.#readiness.noteCommitted();
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
   * Begins a transaction (a client-side step in kafkajs). Its first call on a
   * kafkajs producer makes that producer's transaction manager, which we keep
   * to add each send's partitions in one request (transaction_partitions.ts).
   */
  #begin() {
    const begun = this.#producer!.transaction();
    this.#internals ??= takeTransactionalInternals();
    if (!this.#internals) throw new Error("kafkajs made no transaction manager (kafkajs.ts)");
    return begun;
  }

  /** Drops the current kafkajs producer (after an error of unknown outcome). */
  async reset(): Promise<void> {
    const p = this.#producer;
    this.#producer = null;
    this.#internals = null;
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
