/**
 * Registering a transaction's partitions with its coordinator in ONE
 * request, before anything is produced (issue #16).
 *
 * kafkajs adds partitions to a transaction while producing: one
 * AddPartitionsToTxn per leader broker, concurrently, each answered with
 * CONCURRENT_TRANSACTIONS while the coordinator still writes the previous
 * transaction's markers — a refusal in the middle of a send. We used to open
 * each transaction with an empty offset commit for a gate group instead
 * (AddOffsetsToTxn, FindCoordinator, TxnOffsetCommit: three requests) that
 * could be retried until the coordinator was ready. Here the messages get
 * their partitions first (kafkajs' own partitioner over the producer's
 * metadata, so a key lands where it always did), and all of them are added
 * in one coordinator-only request, retried on CONCURRENT_TRANSACTIONS; it
 * produces nothing, so a retry is always safe. kafkajs then finds them added
 * and sends only the produce requests.
 *
 * @module
 */
import type { TransactionalInternals } from "./kafkajs.ts";
import { partitionerFor, type TopicBatch } from "./partition_budget.ts";
import { isConcurrentTransactionsError } from "./producer_errors.ts";

const MAX_ATTEMPTS = 500;

/**
 * How long after a commit the coordinator is ready for the next
 * transaction (it writes the commit markers first), learned from the
 * refusals: the first AddPartitionsToTxn of a transaction that follows a
 * commit closely waits that long instead of being refused two or three
 * times (each refusal a request). The estimate follows what is observed: up
 * to the time a refused transaction was accepted, down a little each time
 * a request is accepted at once, so it tracks the cluster, not a constant.
 */
export class CoordinatorReadiness {
  #committedAt = -Infinity;
  #estimateMs = 0;

  noteCommitted(): void {
    this.#committedAt = performance.now();
  }

  /** Waits out the rest of the estimate since the last commit. */
  async ready(): Promise<void> {
    const wait = this.#committedAt + this.#estimateMs - performance.now();
    if (wait >= 1) await new Promise((r) => setTimeout(r, wait));
  }

  noteAccepted(attempts: number): void {
    const since = performance.now() - this.#committedAt;
    if (!Number.isFinite(since) || since > 1_000) return;
    this.#estimateMs = attempts > 1
      ? 0.5 * this.#estimateMs + 0.5 * since
      : Math.max(0, this.#estimateMs * 0.9);
  }

  get estimateMs(): number {
    return this.#estimateMs;
  }
}

/**
 * Sets every message's partition (where not set) in `requests` and adds all
 * of them to the open transaction.
 */
export async function addTransactionPartitions(
  internals: TransactionalInternals,
  requests: TopicBatch[][],
  partitionOf: ReturnType<typeof partitionerFor>,
  readiness: CoordinatorReadiness,
): Promise<void> {
  const topics = [...new Set(requests.flatMap((r) => r.map((b) => b.topic)))];
  await internals.cluster.addMultipleTargetTopics(topics);
  const partitions = new Map<string, Set<number>>();
  for (const request of requests) {
    for (const batch of request) {
      const count = internals.cluster.findTopicPartitionMetadata(batch.topic).length;
      if (count === 0) throw new Error(`no metadata for topic ${batch.topic}`);
      let seen = partitions.get(batch.topic);
      if (!seen) partitions.set(batch.topic, seen = new Set());
      for (const m of batch.messages) {
        m.partition ??= partitionOf(batch.topic, count, m);
        seen.add(m.partition);
      }
    }
  }
  const topicData = [...partitions].map(([topic, set]) => ({
    topic,
    partitions: [...set].map((partition) => ({ partition })),
  }));
  await readiness.ready();
  for (let attempt = 1;; attempt++) {
    try {
      await internals.eos.addPartitionsToTransaction(topicData);
      readiness.noteAccepted(attempt);
      return;
    } catch (err) {
      if (!isConcurrentTransactionsError(err) || attempt >= MAX_ATTEMPTS) throw err;
      await new Promise((r) => setTimeout(r, Math.min(2 * attempt, 20)));
    }
  }
}
