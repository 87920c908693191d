/**
 * The AsyncAPI document covers the suite: every topic, every event type
 * each service declares, every header and envelope field the relay really
 * writes; every reference in it resolves; and the committed copies are
 * judged stale or broken as CI should.
 */
import assert from "node:assert/strict";
import { allTopics } from "../kafka/topics.ts";
import { toRecord } from "../outbox-relay/messages.ts";
import { CouponEvents } from "../services/coupon/events.ts";
import { StockEvents } from "../services/inventory/events.ts";
import { OrderEvents } from "../services/order/events.ts";
import { PointEvents } from "../services/point/events.ts";
import { asyncApiDocument } from "./asyncapi.ts";
import { generatedDocuments, problemsWith } from "./main.ts";

type Json = Record<string, unknown>;
const doc = asyncApiDocument();
const channels = doc.channels as Record<string, { messages: Json }>;
const components = doc.components as { messages: Json; schemas: Record<string, Json> };

Deno.test("the AsyncAPI document has a channel for every topic the tooling creates", () => {
  assert.deepEqual(Object.keys(channels).sort(), allTopics().map((t) => t.name).sort());
});

Deno.test("every event type the services declare is a message on its topic, with publisher and consumers", () => {
  const declared = [OrderEvents, StockEvents, CouponEvents, PointEvents].flatMap(Object.values);
  for (const type of declared) {
    const message = components.messages[type] as Json | undefined;
    assert.ok(message, `${type} is missing`);
    assert.ok(message["x-publisher"], `${type} has no publisher`);
    assert.ok(Object.values(channels).some((c) => type in c.messages), `${type} has no channel`);
  }
  // The saga's requests are consumed by their participant, the replies by order.
  assert.deepEqual((components.messages.StockDeductionRequested as Json)["x-consumers"], [
    "inventory",
  ]);
  assert.deepEqual((components.messages.CouponUsed as Json)["x-consumers"], ["order"]);
});

Deno.test("every reference in the AsyncAPI document resolves", () => {
  const refs = JSON.stringify(doc).matchAll(/"\$ref":"#\/([^"]+)"/g);
  for (const [, path] of refs) {
    const target = path.split("/").reduce<unknown>((at, part) => (at as Json)?.[part], doc);
    assert.ok(target !== undefined, `#/${path} does not resolve`);
  }
});

Deno.test("every header and envelope field of a relayed record is documented", () => {
  const r = toRecord(
    {
      schema: "orders",
      eventId: crypto.randomUUID(),
      aggregateType: "order",
      aggregateId: "o-1",
      eventType: "OrderCompleted",
      topic: "order-events",
      key: "u-1",
      payload: { orderId: "o-1", userId: "u-1" },
      headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
      createdAt: new Date(),
    },
    16n,
    { knownTopics: new Set(["order-events"]) },
  );
  assert.ok(r.ok);
  const documented = Object.keys(components.schemas.RecordHeaders.properties as Json);
  for (const h of Object.keys(r.message.headers ?? {})) {
    assert.ok(documented.includes(h), `header ${h} is not documented`);
  }
  const envelope = (components.messages.OrderCompleted as { payload: { properties: Json } })
    .payload.properties;
  assert.deepEqual(Object.keys(JSON.parse(r.message.value as string)), Object.keys(envelope));
});

Deno.test("committed documents are stale when they differ from the code's, and broken on a removed field", () => {
  const now = generatedDocuments();
  assert.deepEqual(problemsWith(now, now), { breaking: [], stale: [] });
  const older = JSON.parse(now.asyncapi);
  older.components.schemas.OrderCompletedPayload.properties.total = { type: "number" };
  const committed = { asyncapi: JSON.stringify(older), events: "old" };
  assert.deepEqual(problemsWith(committed, now), {
    breaking: ["OrderCompleted.payload.total removed"],
    stale: ["docs/asyncapi.json", "docs/events.md"],
  });
});

Deno.test("a breaking change is accepted with a new major contract version, and checked against a given baseline", () => {
  const now = generatedDocuments();
  const older = JSON.parse(now.asyncapi);
  older.components.schemas.OrderCompletedPayload.properties.total = { type: "number" };
  const baseline = JSON.stringify(older);
  assert.deepEqual(problemsWith(now, now, baseline).breaking, [
    "OrderCompleted.payload.total removed",
  ]);
  older.info.version = "0.9.0";
  assert.deepEqual(problemsWith(now, now, JSON.stringify(older)).breaking, []);
});
