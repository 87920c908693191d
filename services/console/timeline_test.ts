import assert from "node:assert/strict";
import { buildTimeline, serviceOfEvent, traceIdOf } from "./timeline.ts";

const at = (ms: number) => new Date(Date.UTC(2026, 10, 25, 10, 0, 0, ms)).toISOString();

Deno.test("a cancelled sequential saga as timeline rows", () => {
  const history = [
    { at: at(0), note: "order placed", detail: null },
    { at: at(0), note: "started (sequential)", detail: null },
    { at: at(1), note: "requested stock:1, stock:2", detail: null },
    { at: at(90), note: "stock:1 succeeded", detail: { event: "StockDeducted", eventId: "e-1" } },
    { at: at(95), note: "stock:2 succeeded", detail: { event: "StockDeducted", eventId: "e-2" } },
    { at: at(95), note: "requested coupon", detail: { event: "StockDeducted", eventId: "e-2" } },
    {
      at: at(150),
      note: "coupon failed: already_used",
      detail: { event: "CouponUsageFailed", eventId: "e-3" },
    },
    {
      at: at(150),
      note: "undoing stock:1, stock:2",
      detail: { event: "CouponUsageFailed", eventId: "e-3" },
    },
    { at: at(200), note: "stock:1 undone", detail: { event: "StockRestored", eventId: "e-4" } },
    { at: at(210), note: "stock:2 undone", detail: { event: "StockRestored", eventId: "e-5" } },
    { at: at(210), note: "cancelled", detail: { event: "StockRestored", eventId: "e-5" } },
  ];
  const events = [
    ["o-1", "OrderPlaced", 0],
    ["o-2", "StockDeductionRequested", 1],
    ["o-3", "StockDeductionRequested", 1],
    ["o-4", "CouponUsageRequested", 96],
    ["o-5", "StockRestoreRequested", 151],
    ["o-6", "StockRestoreRequested", 151],
    ["o-7", "OrderCancelled", 211],
  ].map(([id, type, ms]) => ({
    eventId: id as string,
    type: type as string,
    topic: "t",
    key: "k",
    at: at(ms as number),
    traceparent: null,
  }));
  const rows = buildTimeline(history, events);
  assert.deepEqual(rows.map((r) => [r.kind, r.from, r.to.join(","), r.steps.join(",")]), [
    ["placed", "order", "", ""],
    ["started", "order", "", ""],
    ["request", "order", "inventory", "stock:1,stock:2"],
    ["reply", "inventory", "", "stock:1"],
    ["reply", "inventory", "", "stock:2"],
    ["request", "order", "coupon", "coupon"],
    ["failure", "coupon", "", "coupon"],
    ["compensation", "order", "inventory", "stock:1,stock:2"],
    ["compensated", "inventory", "", "stock:1"],
    ["compensated", "inventory", "", "stock:2"],
    ["outcome", "order", "", ""],
  ]);
  assert.equal(rows[6].reason, "already_used");
  assert.deepEqual(rows[6].events, [{ type: "CouponUsageFailed", id: "e-3" }]);
  assert.deepEqual(rows[2].events.map((e) => e.id), ["o-2", "o-3"], "each request its own event");
  assert.deepEqual(rows[7].events.map((e) => e.type), [
    "StockRestoreRequested",
    "StockRestoreRequested",
  ]);
  assert.deepEqual(rows[10].events.map((e) => e.id), ["o-7"]);
  assert.deepEqual(rows.map((r) => r.offsetMs), [0, 0, 1, 90, 95, 95, 150, 150, 200, 210, 210]);
});

Deno.test("a deadline row names the steps given up on", () => {
  const [, row] = buildTimeline([
    { at: at(0), note: "order placed", detail: null },
    { at: at(15_000), note: "deadline passed: gave up on point", detail: null },
  ]);
  assert.equal(row.kind, "deadline");
  assert.deepEqual(row.steps, ["point"]);
  assert.equal(row.offsetMs, 15_000);
});

Deno.test("reply senders and trace ids", () => {
  assert.equal(serviceOfEvent("PointsDeducted"), "point");
  assert.equal(serviceOfEvent("CouponRestored"), "coupon");
  assert.equal(serviceOfEvent("StockDeductionFailed"), "inventory");
  assert.equal(
    traceIdOf("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    "4bf92f3577b34da6a3ce929d0e0e4736",
  );
  assert.equal(traceIdOf("00-00000000000000000000000000000000-00f067aa0ba902b7-01"), null);
  assert.equal(traceIdOf(null), null);
  assert.equal(traceIdOf("garbage"), null);
});
