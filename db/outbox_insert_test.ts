/**
 * outboxInsert() and withOutbox(): many events and the change they announce
 * as one statement — in their order, with appendOutbox()'s columns, and a
 * bad event refused before anything is sent.
 */
import assert from "node:assert/strict";
import { connectAdmin, connectService } from "./connect.ts";
import { InvalidEventError, type StoredEvent, withOutbox } from "./outbox.ts";
import { ensureMigrated, sampleEvent, uniqueName } from "./testing.ts";

await ensureMigrated();

Deno.test("withOutbox() writes the change and its events, in their order", async () => {
  const sql = connectService("order_service", { max: 1 });
  const admin = connectAdmin({ max: 1 });
  const key = uniqueName("with_outbox");
  const events = [1, 2, 3].map((n) =>
    sampleEvent({ aggregateId: key, eventType: `Step${n}`, headers: { "x-n": String(n) } })
  );
  try {
    await sql.begin((tx) =>
      withOutbox(
        tx,
        tx`insert into settings (key, value) values (${key}, ${tx.json({ n: 3 })})`,
        events,
      )
    );
    const rows = await admin<StoredEvent[]>`
      select * from orders.outbox where aggregate_id = ${key} order by created_at, event_id`;
    assert.deepEqual(rows.map((r) => r.event_type), ["Step1", "Step2", "Step3"]);
    assert.deepEqual(rows[1].payload, events[1].payload);
    assert.equal(rows[1].headers["x-n"], "2");
    assert.equal(rows[1].key, "user-1");
    const [setting] = await admin`select value from orders.settings where key = ${key}`;
    assert.deepEqual(setting.value, { n: 3 });
  } finally {
    await admin`delete from orders.outbox where aggregate_id = ${key}`;
    await admin`delete from orders.settings where key = ${key}`;
    await admin.end();
    await sql.end();
  }
});

Deno.test("withOutbox() refuses a bad event before anything is sent: the change is not made", async () => {
  const sql = connectService("order_service", { max: 1 });
  const admin = connectAdmin({ max: 1 });
  const key = uniqueName("with_outbox_bad");
  try {
    await assert.rejects(
      sql.begin((tx) =>
        withOutbox(tx, tx`insert into settings (key, value) values (${key}, '{}')`, [
          sampleEvent({ aggregateId: key }),
          sampleEvent({ aggregateId: key, topic: "no-such-topic" }),
        ])
      ),
      InvalidEventError,
    );
    assert.equal((await admin`select 1 from orders.settings where key = ${key}`).length, 0);
    assert.equal((await admin`select 1 from orders.outbox where aggregate_id = ${key}`).length, 0);
  } finally {
    await admin.end();
    await sql.end();
  }
});
