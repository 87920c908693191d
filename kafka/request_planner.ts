/**
 * What a producer needs to keep its sends under the per-partition byte
 * budget (partition_budget.ts): the budget, kafkajs' partitioner, and the
 * topics' partition counts, read from the cluster only when a send is over
 * the budget and then kept for a minute (partitions are added rarely; a
 * key moves when they are, with or without us).
 *
 * @module
 */
import type { KafkaJs } from "./client.ts";
import {
  DEFAULT_PARTITION_BATCH_BYTES,
  partitionerFor,
  planRequests,
  type TopicBatch,
} from "./partition_budget.ts";

const COUNTS_TTL_MS = 60_000;

export class RequestPlanner {
  readonly budget: number;
  #kafka: KafkaJs;
  #partitionOf = partitionerFor();
  #counts = new Map<string, { partitions: number; at: number }>();

  constructor(kafka: KafkaJs, budget = DEFAULT_PARTITION_BATCH_BYTES) {
    if (!Number.isInteger(budget) || budget < 1_024) {
      throw new Error(`a partition batch budget of ${budget} bytes is too small (>= 1024)`);
    }
    this.#kafka = kafka;
    this.budget = budget;
  }

  /** The produce requests to send, in order, one at a time. */
  plan(batches: TopicBatch[]): Promise<TopicBatch[][]> {
    return planRequests(
      batches,
      this.budget,
      (topics) => this.#partitionCounts(topics),
      this.#partitionOf,
    );
  }

  async #partitionCounts(topics: string[]): Promise<Map<string, number>> {
    const now = Date.now();
    const stale = topics.filter((t) =>
      (this.#counts.get(t)?.at ?? -Infinity) < now - COUNTS_TTL_MS
    );
    if (stale.length > 0) {
      const admin = this.#kafka.admin();
      await admin.connect();
      try {
        const meta = await admin.fetchTopicMetadata({ topics: stale });
        for (const t of meta.topics) {
          this.#counts.set(t.name, { partitions: t.partitions.length, at: now });
        }
      } finally {
        await admin.disconnect();
      }
    }
    return new Map(topics.map((t) => [t, this.#counts.get(t)?.partitions ?? 0]));
  }
}
