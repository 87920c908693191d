/**
 * What a point deduction request costs Postgres (issue 16 item 4), counted by
 * Postgres itself (pg_stat_statements) in a scratch database: a new deduction
 * is two statements in the consumer's transaction — claim, take and record
 * the movement, then the final state with the answer — taken or refused.
 */
import assert from "node:assert/strict";
import { connectService } from "../../../db/mod.ts";
import { withScratchDatabase } from "../../../db/testing.ts";
import { statementsOf } from "../../../tests/support/statements.ts";
import { handlePointDeductionRequested } from "./point_deduction_requested.ts";

Deno.test("a point deduction request is two statements, taken or refused", async (t) => {
  await withScratchDatabase(async (database, admin) => {
    const sql = connectService("point_service", { database, max: 1 });
    try {
      await admin`insert into points.balances (user_id, balance) values ('u-1', 100)`;
      const deduct = (amount: number) =>
        statementsOf(
          admin,
          "point_service",
          () =>
            sql.begin((tx) =>
              handlePointDeductionRequested(tx, {
                orderId: crypto.randomUUID(),
                userId: "u-1",
                amount,
              })
            ),
        );
      // Once, so that the type look-ups of a new connection are not counted.
      await sql.begin((tx) => tx`select 1`);

      await t.step("taken: claim-take-move, then DEDUCTED with PointDeducted", async () => {
        const statements = await deduct(30);
        assert.equal(statements.length, 2, statements.join("\n"));
        const [b] = await admin`select balance::int from points.balances where user_id = 'u-1'`;
        assert.equal(b.balance, 70);
        const moves = await admin`select delta::int, kind from points.movements`;
        assert.deepEqual(moves.map((m) => [m.delta, m.kind]), [[-30, "DEDUCT"]]);
        const [reply] = await admin`select payload from points.outbox`;
        assert.equal(reply.payload.balance, 70);
      });

      await t.step("refused: claim (nothing taken), then FAILED with the refusal", async () => {
        const statements = await deduct(500);
        assert.equal(statements.length, 2, statements.join("\n"));
        const [b] = await admin`select balance::int from points.balances where user_id = 'u-1'`;
        assert.equal(b.balance, 70);
        const failed = await admin`
          select payload->>'reason' as reason from points.outbox
          where event_type = 'PointDeductionFailed'`;
        assert.deepEqual(failed.map((r) => r.reason), ["insufficient_points"]);
      });
    } finally {
      await sql.end();
    }
  });
});
