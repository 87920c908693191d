/**
 * What a saga change costs Postgres (issue 16 item 4), counted by Postgres
 * itself (pg_stat_statements) in a scratch database, so that the count is
 * this test's alone: inside its transaction, placing an order is one write;
 * a reply is the lock of its order and one write — however many history
 * notes and outbox events the change makes (BEGIN and COMMIT left out).
 */
import assert from "node:assert/strict";
import { inTransaction } from "../../db/after_commit.ts";
import { connectService, type Sql } from "../../db/mod.ts";
import { withScratchDatabase } from "../../db/testing.ts";
import { statementsOf as orderStatements } from "../../tests/support/statements.ts";
import { applyToSaga, placeOrder } from "./saga_runner.ts";

const statementsOf = (admin: Sql, fn: () => Promise<unknown>) =>
  orderStatements(admin, "order_service", fn);

Deno.test("a saga change is one write statement in its transaction", async (t) => {
  await withScratchDatabase(async (database, admin) => {
    const sql = connectService("order_service", { database, max: 1 });
    try {
      const orderId = crypto.randomUUID();
      const place = () =>
        inTransaction(sql, (tx) =>
          placeOrder(tx, {
            orderId,
            userId: "statements-test",
            items: [{ productId: "p-1", quantity: 1 }, { productId: "p-2", quantity: 2 }],
            couponId: "c-1",
            points: 10,
            idempotencyKey: null,
            mode: "parallel",
            deadlineMs: 60_000,
          }));
      // Once, so that the type look-ups of a new connection are not counted.
      await inTransaction(sql, (tx) => tx`select 1`);

      await t.step(
        "placeOrder(): order, history, OrderPlaced and four requests in one",
        async () => {
          const statements = await statementsOf(admin, place);
          assert.equal(statements.length, 1, statements.join("\n"));
        },
      );

      await t.step("applyToSaga(): the lock, then saga, history and outcome in one", async () => {
        await inTransaction(
          sql,
          (tx) => applyToSaga(tx, orderId, { type: "succeeded", stepId: "stock:1" }),
        );
        await inTransaction(
          sql,
          (tx) => applyToSaga(tx, orderId, { type: "succeeded", stepId: "stock:2" }),
        );
        await inTransaction(
          sql,
          (tx) => applyToSaga(tx, orderId, { type: "succeeded", stepId: "coupon" }),
        );
        // The last reply completes the saga: saga, two notes, OrderCompleted.
        const statements = await statementsOf(
          admin,
          () =>
            inTransaction(
              sql,
              (tx) =>
                applyToSaga(tx, orderId, { type: "succeeded", stepId: "point" }, { event: "x" }),
            ),
        );
        assert.equal(statements.length, 2, statements.join("\n"));
        const [order] = await admin`select status from orders.orders where id = ${orderId}`;
        assert.equal(order.status, "COMPLETED");
      });

      await t.step("a failure's undo requests are written with the change, in one", async () => {
        const failing = crypto.randomUUID();
        await inTransaction(sql, (tx) =>
          placeOrder(tx, {
            orderId: failing,
            userId: "statements-test",
            items: [{ productId: "p-1", quantity: 1 }],
            couponId: "c-2",
            points: 10,
            idempotencyKey: null,
            mode: "parallel",
            deadlineMs: 60_000,
          }));
        await inTransaction(
          sql,
          (tx) => applyToSaga(tx, failing, { type: "succeeded", stepId: "stock:1" }),
        );
        await inTransaction(
          sql,
          (tx) => applyToSaga(tx, failing, { type: "succeeded", stepId: "coupon" }),
        );
        const statements = await statementsOf(
          admin,
          () =>
            inTransaction(
              sql,
              (tx) =>
                applyToSaga(tx, failing, { type: "failed", stepId: "point", reason: "too_few" }),
            ),
        );
        assert.equal(statements.length, 2, statements.join("\n"));
        const undo = await admin<{ event_type: string }[]>`
          select event_type from orders.outbox
          where aggregate_id = ${failing} and topic = 'compensation-events'`;
        assert.ok(undo.length >= 1, "an undo request was written");
      });
    } finally {
      await sql.end();
    }
  });
});
