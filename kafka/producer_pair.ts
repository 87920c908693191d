/**
 * Two transactional producers used in turn, so that a transaction can start
 * while the coordinator still finishes the previous one (issue #16).
 *
 * After EndTxn answers, the commit is decided (PrepareCommit is in the
 * transaction log), but the coordinator goes on writing the commit markers
 * to every partition the transaction touched and refuses the same
 * transactional id a new transaction until it has (CONCURRENT_TRANSACTIONS):
 * on our brokers a third of a relay transaction's time was spent waiting for
 * that. With a second transactional id, the next transaction goes through
 * the other producer at once; by the time a producer's turn comes again, its
 * markers are long written.
 *
 * Why order and exactly-once hold: the next transaction starts only after the
 * previous one's commit is decided, so its records follow the previous ones
 * in every partition, and a read_committed consumer reads in offset order
 * (it waits at the first transaction whose markers are not written yet). At
 * most one transaction is undecided at any time, as with one producer. After
 * any error BOTH producers are dropped and registered again (in order) before
 * the next transaction, which fences older instances on both ids and lets
 * the coordinator finish or abort whatever either left open — so a checkpoint
 * read right after sees everything decided. Registering both ids is also
 * what fences an older relay: `connect()` does it before anything is sent.
 *
 * @module
 */
import type { KafkaJs } from "./client.ts";
import type { TopicBatch } from "./partition_budget.ts";
import {
  sendingAll,
  TransactionalProducer,
  type TransactionalProducerOptions,
  type TransactionOffsets,
  type TransactionScope,
} from "./producer.ts";

/** What the relay and its tools need of a transactional producer. */
export interface TransactionalSender {
  readonly transactionalId: string;
  readonly connected: boolean;
  connect(): Promise<void>;
  commit(batches: TopicBatch[], offsets?: TransactionOffsets): Promise<void>;
  transaction(work: (tx: TransactionScope) => Promise<void>): Promise<void>;
  reset(): Promise<void>;
  disconnect(): Promise<void>;
  close(): Promise<void>;
}

/** The second producer's transactional id. */
export function secondTransactionalId(transactionalId: string): string {
  return `${transactionalId}.2`;
}

export class TransactionalProducerPair implements TransactionalSender {
  #lanes: [TransactionalProducer, TransactionalProducer];
  #next = 0;
  #busy = false;

  constructor(kafka: KafkaJs, opts: TransactionalProducerOptions) {
    this.#lanes = [
      new TransactionalProducer(kafka, opts),
      new TransactionalProducer(kafka, {
        ...opts,
        transactionalId: secondTransactionalId(opts.transactionalId),
      }),
    ];
  }

  get transactionalId(): string {
    return this.#lanes[0].transactionalId;
  }

  /** Both registered: the next transaction fences no one. */
  get connected(): boolean {
    return this.#lanes[0].connected && this.#lanes[1].connected;
  }

  /** Registers both transactional ids, in order (fencing older instances on both). */
  async connect(): Promise<void> {
    for (const lane of this.#lanes) await lane.connect();
  }

  commit(batches: TopicBatch[], offsets?: TransactionOffsets): Promise<void> {
    return this.transaction(sendingAll(batches, offsets));
  }

  async transaction(work: (tx: TransactionScope) => Promise<void>): Promise<void> {
    if (this.#busy) throw new Error("one transaction at a time per producer");
    this.#busy = true;
    try {
      await this.connect();
      const lane = this.#lanes[this.#next];
      try {
        await lane.transaction(work);
      } catch (err) {
        await this.reset();
        throw err;
      }
      this.#next = 1 - this.#next;
    } finally {
      this.#busy = false;
    }
  }

  /** Drops both producers; the next transaction registers both again, starting with the first. */
  async reset(): Promise<void> {
    this.#next = 0;
    await Promise.all(this.#lanes.map((lane) => lane.reset()));
  }

  disconnect(): Promise<void> {
    return this.reset();
  }

  /** Disconnects both for good: every later call throws ProducerClosedError. */
  async close(): Promise<void> {
    await Promise.all(this.#lanes.map((lane) => lane.close()));
  }
}
