/**
 * What a stock deduction request costs Postgres (issue 16 item 4), counted by
 * Postgres itself (pg_stat_statements) in a scratch database: a new line is
 * two statements in the consumer's transaction — claim-and-take, then the
 * line's final state with the answer — taken or refused.
 */
import assert from "node:assert/strict";
import { connectService } from "../../../db/mod.ts";
import { withScratchDatabase } from "../../../db/testing.ts";
import { statementsOf } from "../../../tests/support/statements.ts";
import { handleStockDeductionRequested } from "./stock_deduction_requested.ts";

Deno.test("a stock deduction request is two statements, taken or refused", async (t) => {
  await withScratchDatabase(async (database, admin) => {
    const sql = connectService("inventory_service", { database, max: 1 });
    try {
      await admin`insert into inventory.products (id, name, price, stock) values ('p-1', 'p', 1, 5)`;
      const deduct = (line: number, quantity: number) =>
        statementsOf(
          admin,
          "inventory_service",
          () =>
            sql.begin((tx) =>
              handleStockDeductionRequested(tx, {
                orderId: crypto.randomUUID(),
                userId: "u-1",
                line,
                productId: "p-1",
                quantity,
              })
            ),
        );
      // Once, so that the type look-ups of a new connection are not counted.
      await sql.begin((tx) => tx`select 1`);

      await t.step("taken: claim-and-take, then DEDUCTED with StockDeducted", async () => {
        const statements = await deduct(1, 2);
        assert.equal(statements.length, 2, statements.join("\n"));
        const [p] = await admin`select stock from inventory.products where id = 'p-1'`;
        assert.equal(p.stock, 3);
      });

      await t.step("refused: claim (nothing taken), then FAILED with the refusal", async () => {
        const statements = await deduct(1, 4);
        assert.equal(statements.length, 2, statements.join("\n"));
        const [p] = await admin`select stock from inventory.products where id = 'p-1'`;
        assert.equal(p.stock, 3);
        const failed = await admin`
          select event_type, payload->>'reason' as reason from inventory.outbox
          where event_type = 'StockDeductionFailed'`;
        assert.deepEqual(failed.map((r) => [r.event_type, r.reason]), [
          ["StockDeductionFailed", "insufficient_stock"],
        ]);
      });
    } finally {
      await sql.end();
    }
  });
});
