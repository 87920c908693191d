/**
 * appendOutbox(): an event is written in the caller's transaction or not at
 * all, carries the writer's trace context, and a bad event is refused.
 */
import assert from "node:assert/strict";
import { connectAdmin, connectService } from "./connect.ts";
import { appendOutbox, InvalidEventError, type OutboxEvent, type StoredEvent } from "./outbox.ts";
import { ensureMigrated, sampleEvent, uniqueName } from "./testing.ts";
import type { Tx } from "./transaction.ts";

await ensureMigrated();

async function rowsOf(aggregateId: string): Promise<StoredEvent[]> {
  const admin = connectAdmin({ max: 1 });
  try {
    return await admin<StoredEvent[]>`
      select * from orders.outbox where aggregate_id = ${aggregateId} order by created_at`;
  } finally {
    await admin.end();
  }
}

async function removeRows(aggregateId: string): Promise<void> {
  const admin = connectAdmin({ max: 1 });
  try {
    await admin`delete from orders.outbox where aggregate_id = ${aggregateId}`;
  } finally {
    await admin.end();
  }
}

Deno.test("appendOutbox() writes the row in the caller's committed transaction", async () => {
  const sql = connectService("order_service", { max: 1 });
  const event = sampleEvent({ headers: { "x-request-id": "req-1" } });
  const payload = { ...event.payload, couponId: undefined }; // an optional field, unset
  try {
    const eventId = await sql.begin((tx) => appendOutbox(tx, { ...event, payload }));
    const rows = await rowsOf(event.aggregateId);
    assert.equal(rows.length, 1);
    const [row] = rows;
    assert.equal(row.event_id, eventId);
    assert.match(eventId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(row.aggregate_type, "order");
    assert.equal(row.event_type, "OrderCreated");
    assert.equal(row.topic, "order-events");
    assert.equal(row.key, "user-1");
    assert.deepEqual(row.payload, event.payload, "an undefined property is left out");
    assert.ok(row.created_at instanceof Date);
    // No span is active in this process (and without OTEL_DENO the API is a
    // no-op), so there is no trace context to record: only the caller's header.
    assert.deepEqual(row.headers, { "x-request-id": "req-1" });
  } finally {
    await sql.end();
    await removeRows(event.aggregateId);
  }
});

Deno.test("appendOutbox() leaves nothing behind when the transaction rolls back", async () => {
  const sql = connectService("order_service", { max: 1 });
  const event = sampleEvent();
  try {
    await assert.rejects(
      sql.begin(async (tx) => {
        await appendOutbox(tx, event);
        throw new Error("the state change failed");
      }),
      /the state change failed/,
    );
    assert.equal((await rowsOf(event.aggregateId)).length, 0);
  } finally {
    await sql.end();
    await removeRows(event.aggregateId);
  }
});

Deno.test("appendOutbox() keeps the order of the events of one transaction", async () => {
  const sql = connectService("order_service", { max: 1 });
  const aggregateId = uniqueName("order");
  try {
    const ids = await sql.begin(async (tx) => {
      const written: string[] = [];
      // Types outside the contracts' catalog: the sample payload fits none of its schemas.
      for (const eventType of ["OrderCreated", "OrderNoted", "OrderClosed"]) {
        written.push(await appendOutbox(tx, sampleEvent({ aggregateId, eventType })));
      }
      return written;
    });
    const rows = await rowsOf(aggregateId);
    assert.deepEqual(rows.map((r) => r.event_id), ids);
    const admin = connectAdmin({ max: 1 });
    try {
      const [{ n }] = await admin`
        select count(distinct created_at)::int as n from orders.outbox
        where aggregate_id = ${aggregateId}`;
      assert.equal(n, 3, "created_at is clock_timestamp(), not the transaction's now()");
    } finally {
      await admin.end();
    }
  } finally {
    await sql.end();
    await removeRows(aggregateId);
  }
});

Deno.test("appendOutbox() refuses an invalid event with a clear error and writes nothing", async (t) => {
  const sql = connectService("order_service", { max: 1 });
  const aggregateId = uniqueName("order");
  const cases: [string, Partial<OutboxEvent> | Record<string, unknown>, RegExp][] = [
    ["an empty aggregateType", { aggregateType: "" }, /aggregateType must be a non-empty string/],
    ["a blank key", { key: "  " }, /key must be a non-empty string/],
    ["a missing eventType", { eventType: undefined }, /eventType must be a non-empty string/],
    ["an unknown topic", { topic: "orders" }, /topic "orders" is not one of order-events/],
    ["a DLQ topic", { topic: "order-events-dlq" }, /is not one of/],
    ["an array payload", { payload: [1, 2] }, /payload must be a JSON object/],
    ["a Date in the payload", { payload: { at: new Date() } }, /payload\.at is a Date/],
    ["NaN in the payload", { payload: { n: [1, NaN] } }, /payload\.n\[1\] is NaN/],
    ["undefined in an array", { payload: { u: [undefined] } }, /payload\.u\[0\] is undefined/],
    ["a bigint in the payload", { payload: { b: 1n } }, /payload\.b is a bigint/],
    ["a non-string header", { headers: { retry: 3 } }, /header retry must be a string/],
  ];
  try {
    for (const [what, overrides, message] of cases) {
      await t.step(`refuses ${what}`, async () => {
        const event = { ...sampleEvent({ aggregateId }), ...overrides } as OutboxEvent;
        await assert.rejects(
          sql.begin((tx) => appendOutbox(tx, event)),
          (err: Error) => err instanceof InvalidEventError && message.test(err.message),
        );
      });
    }
    await t.step("refuses a payload that refers back to itself", async () => {
      const payload: Record<string, unknown> = { a: 1 };
      payload.self = payload;
      await assert.rejects(
        sql.begin((tx) => appendOutbox(tx, sampleEvent({ aggregateId, payload }))),
        /payload\.self refers back to itself/,
      );
    });
    assert.equal((await rowsOf(aggregateId)).length, 0);
  } finally {
    await sql.end();
    await removeRows(aggregateId);
  }
});

Deno.test("appendOutbox() refuses a pool: an event needs its state change's transaction", async () => {
  const sql = connectService("order_service", { max: 1 });
  const event = sampleEvent();
  try {
    await assert.rejects(
      appendOutbox(sql as unknown as Tx, event),
      (err: Error) => err instanceof TypeError && /caller's transaction/.test(err.message),
    );
    assert.equal((await rowsOf(event.aggregateId)).length, 0);
  } finally {
    await sql.end();
  }
});

Deno.test("appendOutbox() records the active span's traceparent (OTEL_DENO=true)", async () => {
  const aggregateId = uniqueName("order");
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./testdata/append_in_span.ts", import.meta.url).pathname,
        aggregateId,
      ],
      cwd: new URL("../", import.meta.url).pathname,
      env: { OTEL_DENO: "true", OTEL_SERVICE_NAME: "db-outbox-test" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const { eventId, traceparent } = JSON.parse(stdout) as { eventId: string; traceparent: string };
    assert.match(traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.doesNotMatch(traceparent, /^00-0{32}-/, "the span is real, not a no-op");
    const [row] = await rowsOf(aggregateId);
    assert.equal(row.event_id, eventId);
    assert.equal(row.headers.traceparent, traceparent);
  } finally {
    await removeRows(aggregateId);
  }
});
