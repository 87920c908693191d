/**
 * afterCommit(): callbacks run after the COMMIT of an inTransaction()
 * transaction, and never for one that rolled back. Real Postgres.
 */
import assert from "node:assert/strict";
import { afterCommit, inTransaction } from "./after_commit.ts";
import { connectService } from "./connect.ts";

Deno.test("afterCommit() runs its callbacks once the transaction committed, in order", async () => {
  const sql = connectService("order_service", { max: 1 });
  const ran: string[] = [];
  try {
    const result = await inTransaction(sql, async (tx) => {
      afterCommit(tx, () => ran.push("first"));
      await tx`select 1`;
      afterCommit(tx, () => ran.push("second"));
      assert.deepEqual(ran, [], "nothing runs before the commit");
      return 42;
    });
    assert.equal(result, 42);
    assert.deepEqual(ran, ["first", "second"]);
  } finally {
    await sql.end();
  }
});

Deno.test("afterCommit() drops its callbacks when the transaction rolls back", async () => {
  const sql = connectService("order_service", { max: 1 });
  let ran = 0;
  try {
    await assert.rejects(
      inTransaction(sql, async (tx) => {
        afterCommit(tx, () => ran++);
        await tx`select 1/0`;
      }),
      /division by zero/,
    );
    assert.equal(ran, 0);
  } finally {
    await sql.end();
  }
});

Deno.test("afterCommit() refuses a transaction nobody will run the callbacks of", async () => {
  const sql = connectService("order_service", { max: 1 });
  try {
    await assert.rejects(
      sql.begin((tx) => {
        afterCommit(tx, () => {});
        return Promise.resolve();
      }),
      /needs a transaction opened by inTransaction/,
    );
  } finally {
    await sql.end();
  }
});
