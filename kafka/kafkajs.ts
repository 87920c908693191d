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

const kafkajs: typeof KafkaJsTypes = require("kafkajs");
export default kafkajs;
