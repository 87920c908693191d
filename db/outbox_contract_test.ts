/**
 * The outbox refuses an event that breaks its contract (issue 18 item 3):
 * a payload that does not match its type's schema, the wrong topic or the
 * wrong key throws InvalidEventError and writes nothing; a good one is
 * written. Real Postgres, the services' own message builders.
 */
import assert from "node:assert/strict";
import { couponMessages } from "../services/coupon/events.ts";
import { stockMessages } from "../services/inventory/events.ts";
import { connectAdmin, connectService } from "./connect.ts";
import { appendOutbox, InvalidEventError, type OutboxEvent, withOutbox } from "./outbox.ts";
import { ensureMigrated } from "./testing.ts";

await ensureMigrated();

async function outboxRowsOf(aggregateId: string): Promise<number> {
  const admin = connectAdmin({ max: 1 });
  try {
    const [{ n }] = await admin<{ n: number }[]>`
      select count(*)::int as n from coupons.outbox where aggregate_id = ${aggregateId}`;
    await admin`delete from coupons.outbox where aggregate_id = ${aggregateId}`;
    return n;
  } finally {
    await admin.end();
  }
}

Deno.test("an event whose payload does not match its schema is refused and nothing is written", async () => {
  const sql = connectService("coupon_service", { max: 1 });
  const couponId = `contract-test-${crypto.randomUUID()}`;
  // A negative discount and a reason the contract does not know: the casts
  // stand for a producer bug the type checker did not catch.
  const bad = [
    couponMessages.used({ orderId: "o-1", couponId, discount: -5 }),
    couponMessages.usageFailed({ orderId: "o-1", couponId, reason: "lost" as "expired" }),
    {
      ...couponMessages.restored({ orderId: "o-1", couponId, wasUsed: true }),
      payload: { couponId },
    },
  ];
  try {
    for (const event of bad) {
      await assert.rejects(
        () => sql.begin((tx) => appendOutbox(tx, event)),
        (err: Error) => {
          assert.ok(err instanceof InvalidEventError, String(err));
          assert.match(err.message, new RegExp(`${event.eventType} does not match its schema`));
          return true;
        },
      );
    }
    assert.equal(await outboxRowsOf(couponId), 0);
  } finally {
    await sql.end();
  }
});

Deno.test("an event on another topic or key than its contract's is refused", async () => {
  const sql = connectService("coupon_service", { max: 1 });
  const couponId = `contract-test-${crypto.randomUUID()}`;
  const used = couponMessages.used({ orderId: "o-1", couponId, discount: 100 });
  const wrong: OutboxEvent[] = [
    { ...used, topic: "order-events" },
    { ...used, key: "o-1" },
  ];
  try {
    for (const event of wrong) {
      await assert.rejects(
        () => sql.begin((tx) => withOutbox(tx, tx`select 1`, [event])),
        InvalidEventError,
      );
    }
    assert.equal(await outboxRowsOf(couponId), 0);
  } finally {
    await sql.end();
  }
});

Deno.test("events that keep their contracts are written", async () => {
  const sql = connectService("coupon_service", { max: 1 });
  const couponId = `contract-test-${crypto.randomUUID()}`;
  try {
    await sql.begin(async (tx) => {
      await appendOutbox(tx, couponMessages.used({ orderId: "o-1", couponId, discount: 100 }));
      await appendOutbox(tx, couponMessages.restoreRequested({ orderId: "o-1", couponId }));
    });
    assert.equal(await outboxRowsOf(couponId), 2);
    // Another service's builder, checked the same way without a database.
    assert.doesNotThrow(() =>
      stockMessages.deducted({ orderId: "o-1", line: 1, productId: "p-1", quantity: 1 })
    );
  } finally {
    await sql.end();
  }
});
