/** Reading DLQ records, their fingerprints, states and replays (no I/O). */
import assert from "node:assert/strict";
import type { IncomingMessage } from "../../../kafka/mod.ts";
import { arriveAgain, firstArrival, readDeadLetter, replayMessage } from "./dead_letter.ts";

function dlq(headers: Record<string, string>, topic = "stock-events-dlq"): IncomingMessage {
  return {
    topic,
    partition: 1,
    offset: "7",
    key: "p-1",
    value: new TextEncoder().encode("{}"),
    headers,
    timestamp: 0,
  };
}

const consumerHeaders = {
  "event-id": "e-1",
  "event-type": "StockDeductionRequested",
  "source-lsn": "0/1",
  traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  "original-topic": "stock-events",
  "original-partition": "3",
  "original-offset": "42",
  "dlq-reason": "handler-failed",
  "dlq-detail": "failed 3 times",
  "error-class": "TypeError",
  "error-message": "boom",
  attempts: "3",
  "first-failure-at": "2026-11-25T10:00:00.000Z",
  "last-failure-at": "2026-11-25T10:00:02.000Z",
  consumer: "inventory-service",
  "consumer-group": "inventory-service",
};

Deno.test("a consumer's dead letter is read field by field; handler failures are retryable", () => {
  const d = readDeadLetter(dlq(consumerHeaders), "outbox-relay-dlq");
  assert.equal(d.fingerprint, "inventory-service|event|e-1");
  assert.equal(d.source, "consumer");
  assert.equal(d.retryable, true);
  assert.deepEqual(
    [d.originalTopic, d.originalPartition, d.originalOffset, d.attempts, d.errorClass],
    ["stock-events", 3, "42", 3, "TypeError"],
  );
  assert.equal(d.traceparent, consumerHeaders.traceparent);
  assert.equal(d.firstFailureAt?.toISOString(), "2026-11-25T10:00:00.000Z");
  assert.equal(firstArrival(d.retryable), "PENDING");
});

Deno.test("poison without an event id is known by its position, and not retryable", () => {
  const { "event-id": _i, "event-type": _t, ...rest } = consumerHeaders;
  const d = readDeadLetter(dlq({ ...rest, "dlq-reason": "not-json" }), "outbox-relay-dlq");
  assert.equal(d.fingerprint, "inventory-service|offset|stock-events/3/42");
  assert.equal(d.retryable, false);
  assert.equal(firstArrival(d.retryable), "NON_RETRYABLE");
});

Deno.test("junk on a DLQ topic and the relay's reports are stored, never retryable", () => {
  const junk = readDeadLetter(dlq({}), "outbox-relay-dlq");
  assert.equal(junk.originalTopic, "stock-events");
  assert.equal(junk.reason, "unknown");
  assert.equal(junk.retryable, false);
  assert.equal(junk.fingerprint, "unknown|dlq|stock-events-dlq/1/7");
  const relay = readDeadLetter(
    dlq(
      { "dlq-reason": "unknown-topic", "event-id": "e-9", "original-topic": "nope" },
      "outbox-relay-dlq",
    ),
    "outbox-relay-dlq",
  );
  assert.deepEqual([relay.source, relay.retryable, relay.fingerprint], [
    "relay",
    false,
    "outbox-relay|event|e-9",
  ]);
});

Deno.test("SPEC §9.2: after more than maxRetries replays a dead letter is non-retryable", () => {
  assert.deepEqual(arriveAgain("REPLAYED", true, 1, 5), {
    status: "PENDING",
    becamePermanent: false,
  });
  assert.deepEqual(arriveAgain("REPLAYED", true, 4, 5), {
    status: "PENDING",
    becamePermanent: false,
  });
  assert.deepEqual(arriveAgain("REPLAYED", true, 5, 5), {
    status: "NON_RETRYABLE",
    becamePermanent: true,
  });
  assert.deepEqual(arriveAgain("NON_RETRYABLE", true, 9, 5), {
    status: "NON_RETRYABLE",
    becamePermanent: false,
  });
  assert.deepEqual(arriveAgain("RESOLVED", false, 0, 5), {
    status: "NON_RETRYABLE",
    becamePermanent: false,
  });
});

Deno.test("a replay sends the original record back, without the dead letter's headers", () => {
  const m = replayMessage({
    id: "12",
    key: "p-1",
    value: new Uint8Array([1]),
    headers: consumerHeaders,
    originalPartition: 3,
    replays: 1,
  }, new Date("2026-11-25T11:00:00Z"));
  assert.equal(m.partition, 3);
  assert.equal(m.key, "p-1");
  assert.deepEqual(m.headers, {
    "event-id": "e-1",
    "event-type": "StockDeductionRequested",
    "source-lsn": "0/1",
    traceparent: consumerHeaders.traceparent,
    "replayed-at": "2026-11-25T11:00:00.000Z",
    "dead-letter-id": "12",
    "replay-count": "2",
  });
});
