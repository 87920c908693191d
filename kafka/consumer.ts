/**
 * A consumer with manual commits (SPEC §7.1): an offset is committed only
 * after the handler for that message has returned, so a crash redelivers
 * rather than loses. Reads only committed transactional records by default.
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
  /** How long a fetch waits for data when there is none (kafkajs default 5 s). */
  maxWaitTimeMs?: number;
  /**
   * Partitions whose batches are handled at the same time (kafkajs
   * `partitionsConsumedConcurrently`, default 1). Within a partition messages
   * stay one at a time, in order, each committed after its handler.
   */
  partitionsConcurrently?: number;
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

export class Consumer {
  #consumer: RawConsumer;
  #opts: ConsumerOptions;

  constructor(kafka: KafkaJs, opts: ConsumerOptions) {
    this.#opts = opts;
    this.#consumer = kafka.consumer({
      groupId: opts.groupId,
      readUncommitted: opts.readUncommitted ?? false,
      sessionTimeout: opts.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: opts.heartbeatIntervalMs ?? 1_000,
      maxBytesPerPartition: opts.maxBytesPerPartition,
      maxWaitTimeInMs: opts.maxWaitTimeMs ?? 500,
      allowAutoTopicCreation: false,
    });
  }

  /**
   * Connects, subscribes and starts delivering messages to `handler`.
   * `commit: false` reads without ever committing offsets (a reader that
   * always starts from the beginning).
   */
  async run(handler: MessageHandler, opts: { commit?: boolean } = {}): Promise<void> {
    const commit = opts.commit ?? true;
    await this.#consumer.connect();
    await this.#consumer.subscribe({
      topics: this.#opts.topics,
      fromBeginning: this.#opts.fromBeginning ?? true,
    });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.#opts.partitionsConcurrently ?? 1,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        let last: string | null = null;
        const context: MessageContext = {
          heartbeat: () => heartbeat(),
          isRunning: () => isRunning() && !isStale(),
        };
        for (const m of batch.messages) {
          if (!isRunning() || isStale()) break;
          const acknowledged = await handler({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key ? m.key.toString("utf8") : null,
            value: m.value ? new Uint8Array(m.value) : null,
            headers: decodeHeaders(m.headers as Record<string, unknown>),
            timestamp: Number(m.timestamp),
          }, context);
          if (acknowledged === false) break;
          resolveOffset(m.offset);
          last = m.offset;
          await heartbeat();
        }
        if (commit && last !== null) {
          await this.#consumer.commitOffsets([{
            topic: batch.topic,
            partition: batch.partition,
            offset: (BigInt(last) + 1n).toString(),
          }]);
        }
      },
    });
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

  disconnect(): Promise<void> {
    return this.#consumer.disconnect();
  }
}
