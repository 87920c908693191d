/**
 * kafkajs, loaded once, with our fixes applied before any of its modules
 * that would capture the broken code. Every file of our Kafka layer imports
 * kafkajs from here, never directly.
 *
 * The fix: kafkajs 2.2.4's read_committed filter (`filterAbortedMessages`)
 * assumes the broker's list of aborted transactions is sorted and handles at
 * most one list entry per message, so a consumer can be handed records of an
 * aborted transaction — and skip committed ones. Our relay benchmark caught
 * the relay's checkpoint reader adopting an ABORTED checkpoint and skipping
 * 2,000 events. The replacement follows Kafka's own consumer: sort the list
 * by first offset, start every aborted transaction whose first offset has
 * been reached, end a producer's aborted transaction at its abort marker.
 *
 * The second fix: each broker connection's request queue re-arms a timer
 * to look at its pending requests even when there are none, with a negative
 * delay (kafkajs #1751) — a 1 ms timer loop per connection, forever. Every
 * process with a consumer spent 5–10 % of a core on it while idle, and more
 * under load (issue #5's profile: timers were the busiest thing in an idle
 * service). Our version arms the timer only while requests wait, as the
 * upstream comment intends ("we will anyways check the queue when one of
 * them gets fulfilled").
 *
 * @module
 */
import { createRequire } from "node:module";
import { Buffer } from "node:buffer";
import type * as KafkaJsTypes from "kafkajs";

const require = createRequire(import.meta.url);

const ABORT_MARKER_KEY = Buffer.from([0, 0, 0, 0]);

interface FilterMessage {
  key?: Uint8Array | null;
  offset: string;
  batchContext: { producerId: string | number | bigint; inTransaction: boolean };
}

interface AbortedTransaction {
  producerId: string | number | bigint;
  firstOffset: string | number | bigint;
}

/** Drops the records of aborted transactions (Kafka's read_committed rule). */
export function filterAbortedMessages(
  { messages, abortedTransactions }: {
    messages: FilterMessage[];
    abortedTransactions?: AbortedTransaction[];
  },
): FilterMessage[] {
  if (!abortedTransactions || abortedTransactions.length === 0) return messages;
  const pending = [...abortedTransactions].sort((a, b) => {
    const d = BigInt(String(a.firstOffset)) - BigInt(String(b.firstOffset));
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  });
  const aborting = new Set<string>();
  return messages.filter((message) => {
    const offset = BigInt(String(message.offset));
    while (pending.length > 0 && BigInt(String(pending[0].firstOffset)) <= offset) {
      aborting.add(String(pending.shift()!.producerId));
    }
    const producerId = String(message.batchContext.producerId);
    if (message.key && Buffer.from(message.key).equals(ABORT_MARKER_KEY)) {
      aborting.delete(producerId); // the aborted transaction ends here
      return true;
    }
    return !(message.batchContext.inTransaction && aborting.has(producerId));
  });
}

// Replace the module in the require cache before kafkajs' consumer loads it.
const filterPath = require.resolve("kafkajs/src/consumer/filterAbortedMessages.js");
require(filterPath);
require.cache[filterPath]!.exports = filterAbortedMessages;

/** The bit of kafkajs' RequestQueue that decides when to look at pending requests again. */
export interface RequestQueueLike {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  checkPendingRequests(): void;
}

/** kafkajs' own delay between looks at requests that wait (requestQueue/index.js). */
const CHECK_PENDING_REQUESTS_INTERVAL = 10;

/**
 * Arms one timer to send waiting requests later — only when some wait:
 * until a client-side throttle ends, or else in 10 ms. With nothing
 * pending, a new request is sent by `push()` and in-flight ones re-check the
 * queue when they finish, so no timer is needed.
 */
export function scheduleCheckPendingRequests(this: RequestQueueLike): void {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const throttledFor = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, throttledFor > 0 ? throttledFor : CHECK_PENDING_REQUESTS_INTERVAL);
}

const requestQueue = require("kafkajs/src/network/requestQueue/index.js") as {
  prototype: { scheduleCheckPendingRequests: typeof scheduleCheckPendingRequests };
};
requestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;

/**
 * The third change: a transactional producer's coordinator is looked up once.
 *
 * kafkajs' transaction manager (eosManager) asks the cluster for the
 * transaction coordinator before every AddPartitionsToTxn, EndTxn and
 * AddOffsetsToTxn, and the cluster answers each time with a FindCoordinator
 * request: about a third of a relay transaction's requests (issue #16). The
 * coordinator of a transactional id moves only when its broker fails or the
 * transaction log's leadership moves, and then the next request to the old
 * one fails (NOT_COORDINATOR, or the connection), the transaction fails and
 * our TransactionalProducer throws the whole kafkajs producer — cluster,
 * manager and this cache — away (producer.ts). So the manager gets a view of
 * its cluster that remembers the transaction coordinator for the producer's
 * life, forgets it when a manager call fails, and never answers from memory
 * inside InitProducerId (whose own retries must look again).
 */
interface EosManagerOptions {
  cluster: ClusterLike;
  transactional: boolean;
  [option: string]: unknown;
}

interface ClusterLike {
  findGroupCoordinator(args: { groupId: string; coordinatorType?: number }): Promise<unknown>;
  [member: string]: unknown;
}

/** What our producer uses of kafkajs' transaction manager (eosManager/index.js). */
export interface EosManagerLike {
  addPartitionsToTransaction(
    topicData: { topic: string; partitions: { partition: number }[] }[],
  ): Promise<void>;
  [member: string]: unknown;
}

/** A transactional manager and the cluster (metadata) of its producer. */
export interface TransactionalInternals {
  eos: EosManagerLike;
  cluster: {
    addMultipleTargetTopics(topics: string[]): Promise<unknown>;
    findTopicPartitionMetadata(topic: string): { partitionId: number }[];
  };
}

/** kafkajs' coordinator type of transactional ids (protocol/coordinatorTypes.js). */
const TRANSACTION_COORDINATOR = 1;
const EOS_METHODS = ["addPartitionsToTransaction", "commit", "abort", "sendOffsets"];

let lastTransactional: TransactionalInternals | null = null;

/**
 * The transactional manager kafkajs made during the call just before
 * (`producer.transaction()` makes it synchronously on its first call), or
 * null. Read it right after that call, before anything else can run.
 */
export function takeTransactionalInternals(): TransactionalInternals | null {
  const made = lastTransactional;
  lastTransactional = null;
  return made;
}

function withRememberedCoordinator(cluster: ClusterLike) {
  let remembered: Promise<unknown> | null = null;
  let bypass = false;
  const view = new Proxy(cluster, {
    get(target, prop) {
      if (prop === "findGroupCoordinator") {
        return (args: { groupId: string; coordinatorType?: number }) => {
          if (args.coordinatorType !== TRANSACTION_COORDINATOR || bypass) {
            return target.findGroupCoordinator(args);
          }
          if (!remembered) {
            remembered = target.findGroupCoordinator(args);
            remembered.catch(() => (remembered = null));
          }
          return remembered;
        };
      }
      const value = target[prop as string];
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    view,
    forget: () => (remembered = null),
    uncached: async <T>(work: () => Promise<T>): Promise<T> => {
      bypass = true;
      try {
        return await work();
      } finally {
        bypass = false;
      }
    },
  };
}

const eosPath = require.resolve("kafkajs/src/producer/eosManager/index.js");
const createEosManager = require(eosPath) as (opts: EosManagerOptions) => EosManagerLike;
require.cache[eosPath]!.exports = (opts: EosManagerOptions): EosManagerLike => {
  if (!opts.transactional) return createEosManager(opts);
  const coordinator = withRememberedCoordinator(opts.cluster);
  const eos = createEosManager({ ...opts, cluster: coordinator.view });
  const init = eos.initProducerId as () => Promise<unknown>;
  eos.initProducerId = () => coordinator.uncached(init);
  for (const name of EOS_METHODS) {
    const method = eos[name] as (...args: unknown[]) => Promise<unknown>;
    eos[name] = async (...args: unknown[]) => {
      try {
        return await method(...args);
      } catch (err) {
        // The coordinator answered "busy finishing the last transaction":
        // it is the right one, keep it.
        if ((err as { type?: string })?.type !== "CONCURRENT_TRANSACTIONS") coordinator.forget();
        throw err;
      }
    };
  }
  lastTransactional = {
    eos,
    cluster: opts.cluster as unknown as TransactionalInternals["cluster"],
  };
  return eos;
};

const kafkajs: typeof KafkaJsTypes = require("kafkajs");
export default kafkajs;
