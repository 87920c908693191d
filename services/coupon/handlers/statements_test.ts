/**
 * What a coupon usage request costs Postgres (issue 16 item 4), counted by
 * Postgres itself (pg_stat_statements) in a scratch database: a new usage is
 * claim-and-lock, the guarded use when the coupon may be used, then the
 * final state with the answer — three statements when used, two when refused.
 */
import assert from "node:assert/strict";
import { connectService } from "../../../db/mod.ts";
import { withScratchDatabase } from "../../../db/testing.ts";
import { statementsOf } from "../../../tests/support/statements.ts";
import { handleCouponUsageRequested } from "./coupon_usage_requested.ts";

Deno.test("a coupon usage request is three statements when used, two when refused", async (t) => {
  await withScratchDatabase(async (database, admin) => {
    const sql = connectService("coupon_service", { database, max: 1 });
    try {
      await admin`insert into coupons.coupons (id, user_id, discount) values ('c-1', 'u-1', 500)`;
      const use = (couponId: string) =>
        statementsOf(
          admin,
          "coupon_service",
          () =>
            sql.begin((tx) =>
              handleCouponUsageRequested(tx, {
                orderId: crypto.randomUUID(),
                userId: "u-1",
                couponId,
              })
            ),
        );
      // Once, so that the type look-ups of a new connection are not counted.
      await sql.begin((tx) => tx`select 1`);

      await t.step("used: claim-and-lock, the use, then USED with CouponUsed", async () => {
        const statements = await use("c-1");
        assert.equal(statements.length, 3, statements.join("\n"));
        const [c] = await admin`select status from coupons.coupons where id = 'c-1'`;
        assert.equal(c.status, "USED");
        const [reply] = await admin`select event_type, payload from coupons.outbox`;
        assert.deepEqual([reply.event_type, reply.payload.discount], ["CouponUsed", 500]);
      });

      await t.step("refused: claim-and-lock, then FAILED with the refusal", async () => {
        const used = await use("c-1");
        const unknown = await use("c-unknown");
        assert.equal(used.length, 2, used.join("\n"));
        assert.equal(unknown.length, 2, unknown.join("\n"));
        const failed = await admin`
          select payload->>'reason' as reason from coupons.outbox
          where event_type = 'CouponUsageFailed' order by created_at`;
        assert.deepEqual(failed.map((r) => r.reason), ["already_used", "unknown_coupon"]);
      });
    } finally {
      await sql.end();
    }
  });
});
