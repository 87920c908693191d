import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { Buffer } from "node:buffer";
import { filterAbortedMessages, scheduleCheckPendingRequests } from "./kafkajs.ts";

const msg = (
  offset: number,
  producerId: number,
  opts: { marker?: boolean; inTransaction?: boolean } = {},
) => ({
  offset: String(offset),
  key: opts.marker ? Buffer.from([0, 0, 0, 0]) : Buffer.from("k"),
  batchContext: { producerId: String(producerId), inTransaction: opts.inTransaction ?? true },
});

Deno.test("filterAbortedMessages() drops every aborted transaction, whatever the list's order", () => {
  // Producer 1 aborted at 0–2 (marker at 2); producer 2 committed 3–4;
  // producer 3 aborted at 5–6 (marker at 7), interleaved with producer 2's
  // committed record at 6; producer 1 aborted again at 8–9 (marker 10).
  const messages = [
    msg(0, 1),
    msg(1, 1),
    msg(2, 1, { marker: true }),
    msg(3, 2),
    msg(4, 2),
    msg(5, 3),
    msg(6, 2),
    msg(7, 3, { marker: true }),
    msg(8, 1),
    msg(9, 1),
    msg(10, 1, { marker: true }),
    msg(11, 4, { inTransaction: false }),
  ];
  // Unsorted, as brokers may send it; kafkajs' own filter got this wrong.
  const abortedTransactions = [
    { producerId: "1", firstOffset: "8" },
    { producerId: "3", firstOffset: "5" },
    { producerId: "1", firstOffset: "0" },
  ];
  const kept = filterAbortedMessages({ messages, abortedTransactions }).filter((m) =>
    !Buffer.from(m.key!).equals(Buffer.from([0, 0, 0, 0]))
  );
  assert.deepEqual(kept.map((m) => m.offset), ["3", "4", "6", "11"]);
});

Deno.test("kafkajs' consumer uses our filter (the require cache holds it)", () => {
  const require = createRequire(import.meta.url);
  assert.equal(require("kafkajs/src/consumer/filterAbortedMessages.js"), filterAbortedMessages);
});

Deno.test("kafkajs' request queues arm a timer only while requests wait (kafkajs #1751)", async () => {
  const require = createRequire(import.meta.url);
  const RequestQueue = require("kafkajs/src/network/requestQueue/index.js");
  assert.equal(RequestQueue.prototype.scheduleCheckPendingRequests, scheduleCheckPendingRequests);

  let checks = 0;
  const queue = {
    pending: [] as unknown[],
    throttledUntil: -1,
    throttleCheckTimeoutId: null as ReturnType<typeof setTimeout> | null,
    checkPendingRequests() {
      checks++;
      scheduleCheckPendingRequests.call(this); // as kafkajs does after each check
    },
  };
  scheduleCheckPendingRequests.call(queue);
  assert.equal(queue.throttleCheckTimeoutId, null, "nothing waits: no timer");

  queue.pending.push({});
  scheduleCheckPendingRequests.call(queue);
  assert.notEqual(queue.throttleCheckTimeoutId, null, "a request waits: a timer");
  await new Promise((r) => setTimeout(r, 30));
  queue.pending.length = 0; // the next check sends it
  await new Promise((r) => setTimeout(r, 30));
  const after = checks;
  assert.ok(after >= 1, "the waiting request was looked at");
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(checks, after, "and once none wait, the loop stops");
  assert.equal(queue.throttleCheckTimeoutId, null);
});
