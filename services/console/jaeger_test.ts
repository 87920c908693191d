import assert from "node:assert/strict";
import { JaegerClient, type JaegerTrace, toWaterfall } from "./jaeger.ts";

const span = (
  id: string,
  parent: string | null,
  p: string,
  start: number,
  duration: number,
  tags: { key: string; value: unknown }[] = [],
) => ({
  traceID: "t1",
  spanID: id,
  operationName: `op-${id}`,
  references: parent ? [{ refType: "CHILD_OF", traceID: "t1", spanID: parent }] : [],
  startTime: 1_000_000 + start,
  duration,
  tags,
  processID: p,
});

Deno.test("a Jaeger trace as a waterfall: tree order, depth, offsets, errors, processes", () => {
  const trace: JaegerTrace = {
    traceID: "t1",
    processes: {
      p1: { serviceName: "order" },
      p2: { serviceName: "relay" },
      p3: { serviceName: "point" },
    },
    spans: [
      span("c", "b", "p3", 300, 50, [{ key: "otel.status_code", value: "ERROR" }, {
        key: "otel.status_description",
        value: "insufficient_points",
      }]),
      span("a", null, "p1", 0, 100, [{ key: "http.route", value: "/orders" }]),
      span("b", "a", "p2", 120, 200),
      span("d", "a", "p1", 110, 5),
      span("orphan", "missing", "p2", 500, 10),
    ],
  };
  const w = toWaterfall(trace);
  assert.deepEqual(w.spans.map((s) => [s.spanId, s.depth, s.offsetUs]), [
    ["a", 0, 0],
    ["d", 1, 110],
    ["b", 1, 120],
    ["c", 2, 300],
    ["orphan", 0, 500],
  ]);
  assert.equal(w.durationUs, 510);
  const c = w.spans.find((s) => s.spanId === "c")!;
  assert.equal(c.error, true);
  assert.equal(c.errorText, "insufficient_points");
  assert.equal(c.service, "point");
  assert.deepEqual(w.spans[0].attributes, { "http.route": "/orders" });
  assert.deepEqual(w.processes, [
    { service: "order", spans: 2, errors: 0 },
    { service: "point", spans: 1, errors: 1 },
    { service: "relay", spans: 2, errors: 0 },
  ]);
});

Deno.test("an HTTP 5xx span is an error; an empty trace is empty", () => {
  const w = toWaterfall({
    traceID: "t2",
    processes: { p1: { serviceName: "order" } },
    spans: [span("a", null, "p1", 0, 10, [{ key: "http.response.status_code", value: 503 }])],
  });
  assert.equal(w.spans[0].error, true);
  assert.equal(w.spans[0].errorText, "HTTP 503");
  const empty = toWaterfall({ traceID: "t3", processes: {}, spans: [] });
  assert.deepEqual(empty.spans, []);
  assert.equal(empty.durationUs, 0);
});

Deno.test("finding an order's trace by tag picks the saga's, not a lone marker span", async () => {
  let asked = "";
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    asked = new URL(req.url).search;
    return Response.json({
      data: [
        { traceID: "lone", spans: [span("x", null, "p1", 0, 1)], processes: {} },
        {
          traceID: "saga",
          spans: [span("a", null, "p1", 0, 1), span("b", "a", "p1", 1, 1)],
          processes: {},
        },
      ],
    });
  });
  try {
    const jaeger = new JaegerClient(`http://127.0.0.1:${server.addr.port}`);
    assert.equal(await jaeger.findByOrder("order", "o-1"), "saga");
    const q = new URLSearchParams(asked);
    assert.equal(q.get("service"), "order");
    assert.deepEqual(JSON.parse(q.get("tags")!), { "order.id": "o-1" });
  } finally {
    await server.shutdown();
  }
});
