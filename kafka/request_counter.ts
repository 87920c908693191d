/**
 * Counts the Kafka requests this process sends, by API (`Produce`,
 * `FindCoordinator`, `AddPartitionsToTxn`, …), once `countKafkaRequests()`
 * has been called. Every broker connection of kafkajs queues its requests
 * through one RequestQueue class; this wraps its `push` (a retry is pushed
 * again, so it counts). Used by bench:relay (`kafka_requests_per_tx`) and by
 * the tests that hold a transaction to its request budget (issue #16).
 *
 * @module
 */
import { createRequire } from "node:module";
import "./kafkajs.ts"; // kafkajs with our fixes, loaded the one way the suite loads it

const require = createRequire(import.meta.url);

interface PushedRequest {
  entry: { apiName: string };
}

type Listener = (api: string) => void;

const listeners = new Set<Listener>();
let installed = false;

/** Calls `onRequest` with the API name of every request sent from now on; returns a remover. */
export function countKafkaRequests(onRequest: Listener): () => void {
  if (!installed) {
    installed = true;
    const RequestQueue = require("kafkajs/src/network/requestQueue/index.js") as {
      prototype: { push(this: unknown, r: PushedRequest): void };
    };
    const push = RequestQueue.prototype.push;
    RequestQueue.prototype.push = function countedPush(this: unknown, r: PushedRequest): void {
      for (const l of listeners) l(r.entry.apiName);
      return push.call(this, r);
    };
  }
  listeners.add(onRequest);
  return () => listeners.delete(onRequest);
}
