import assert from "node:assert/strict";
import { recordBytes } from "../kafka/mod.ts";
import { toDeadLetter, toRecord } from "./messages.ts";
import type { OutboxRow } from "./wal_reader.ts";

const row = (over: Partial<OutboxRow> = {}): OutboxRow => ({
  schema: "orders",
  eventId: "0b6f1c2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
  aggregateType: "order",
  aggregateId: "o-1",
  eventType: "OrderPlaced",
  topic: "order-events",
  key: "user-7",
  payload: { total: 42 },
  headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
  createdAt: new Date("2026-11-25T00:00:00Z"),
  ...over,
});
const opts = { knownTopics: new Set(["order-events"]) };

Deno.test("toRecord() keys by the row's key and carries event id, type, trace and WAL position", () => {
  const r = toRecord(row(), 0x10_0000_0020n, opts);
  assert.ok(r.ok);
  assert.equal(r.topic, "order-events");
  assert.equal(r.message.key, "user-7");
  assert.deepEqual(JSON.parse(r.message.value as string), {
    id: "0b6f1c2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
    type: "OrderPlaced",
    aggregateType: "order",
    aggregateId: "o-1",
    occurredAt: "2026-11-25T00:00:00.000Z",
    payload: { total: 42 },
  });
  assert.equal(r.message.headers?.["event-id"], "0b6f1c2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b");
  assert.equal(r.message.headers?.["event-type"], "OrderPlaced");
  assert.equal(
    r.message.headers?.traceparent,
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  );
  assert.equal(r.message.headers?.["source-lsn"], "10/20");
});

Deno.test("toRecord() names the reason for each kind of poison row", () => {
  const cases: [Partial<OutboxRow>, string][] = [
    [{ topic: "no-such-topic" }, "unknown-topic"],
    [{ key: "" }, "empty-key"],
    [{ headers: { traceparent: 7 } }, "bad-headers"],
    [{ headers: ["x"] }, "bad-headers"],
    [{ payload: null }, "bad-payload"],
    [{ payload: { blob: "x".repeat(1_000_000) } }, "too-large"],
  ];
  for (const [over, reason] of cases) {
    const r = toRecord(row(over), 1n, opts);
    assert.ok(!r.ok, reason);
    assert.equal(r.reason, reason);
  }
});

Deno.test("toDeadLetter() keeps the reason and the row, leaving out a payload too large to copy", () => {
  const dl = toDeadLetter(row({ payload: { blob: "x".repeat(200_000) } }), 5n, "too-large", "big");
  assert.equal(dl.headers?.["dlq-reason"], "too-large");
  assert.equal(dl.headers?.["original-topic"], "order-events");
  const body = JSON.parse(dl.value as string);
  assert.equal(body.event.id, "0b6f1c2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b");
  assert.equal(body.event.payload, undefined);
  assert.ok(body.event.payloadBytes > 200_000);
});

Deno.test("toRecord() counts the key and headers against the record limit, not only the value", () => {
  const bigHeaders = row({ headers: { "x-big": "y".repeat(1_000) }, payload: { n: 1 } });
  const r = toRecord(bigHeaders, 1n, { ...opts, maxRecordBytes: 900 });
  assert.ok(!r.ok);
  assert.equal(r.reason, "too-large");
  assert.ok(!toRecord(row({ key: "k".repeat(1_000) }), 1n, { ...opts, maxRecordBytes: 900 }).ok);
  assert.ok(toRecord(row(), 1n, { ...opts, maxRecordBytes: 900 }).ok);
});

Deno.test("toDeadLetter() leaves out oversized headers and clips long texts, so it always fits", () => {
  const huge = row({
    topic: "t".repeat(500_000),
    key: "k".repeat(500_000),
    headers: { n: Array.from({ length: 200_000 }, () => 1) },
  });
  const letter = toDeadLetter(huge, 1n, "unknown-topic", `topic ${huge.topic} does not exist`);
  const body = JSON.parse(letter.value as string);
  assert.equal(body.event.headers, undefined);
  assert.ok(body.event.headersBytes > 400_000);
  assert.ok(body.event.key.length < 3_000 && body.event.topic.length < 3_000);
  assert.ok(recordBytes(letter) < 300_000, `${recordBytes(letter)} bytes`);
});
