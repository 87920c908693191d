/**
 * parseEnvelope(): the relay's envelope is read field by field; anything
 * else is poison, with a reason a DLQ reader can act on.
 */
import assert from "node:assert/strict";
import type { IncomingMessage } from "../kafka/mod.ts";
import { parseEnvelope } from "./envelope.ts";

function record(value: string | Uint8Array | null): IncomingMessage {
  return {
    topic: "order-events",
    partition: 3,
    offset: "42",
    key: "user-1",
    value: typeof value === "string" ? new TextEncoder().encode(value) : value,
    headers: {},
    timestamp: 0,
  };
}

const VALID = {
  id: "0b7c1f0e-8f5e-4a57-9a39-4c1d7d0f2a11",
  type: "OrderCreated",
  aggregateType: "order",
  aggregateId: "order-1",
  occurredAt: "2025-01-01T00:00:00.000Z",
  payload: { orderId: "order-1", userId: "user-1" },
};

Deno.test("parseEnvelope() reads the envelope the relay writes", () => {
  assert.deepEqual(parseEnvelope(record(JSON.stringify(VALID))), { ok: true, event: VALID });
});

Deno.test("parseEnvelope() calls a record poison, saying why", async (t) => {
  const cases: [string, string | Uint8Array | null, string, RegExp][] = [
    ["a tombstone", null, "empty-value", /no value/],
    ["an empty value", "", "empty-value", /no value/],
    ["bytes that are not UTF-8", new Uint8Array([0xff, 0xfe, 0x00]), "not-json", /UTF-8/],
    ["text that is not JSON", "OrderCreated order-1", "not-json", /not JSON/],
    ["a JSON array", "[1,2]", "bad-envelope", /not a JSON object/],
    ["no id", JSON.stringify({ ...VALID, id: undefined }), "bad-envelope", /\bid\b/],
    ["an empty type", JSON.stringify({ ...VALID, type: "" }), "bad-envelope", /\btype\b/],
    [
      "a numeric aggregateId",
      JSON.stringify({ ...VALID, aggregateId: 7 }),
      "bad-envelope",
      /aggregateId/,
    ],
    [
      "a payload that is a string",
      JSON.stringify({ ...VALID, payload: "x" }),
      "bad-envelope",
      /payload/,
    ],
    ["no payload", JSON.stringify({ ...VALID, payload: undefined }), "bad-envelope", /payload/],
  ];
  for (const [name, value, reason, detail] of cases) {
    await t.step(name, () => {
      const parsed = parseEnvelope(record(value));
      assert.equal(parsed.ok, false);
      if (parsed.ok) return;
      assert.equal(parsed.reason, reason);
      assert.match(parsed.detail, detail);
    });
  }
});
