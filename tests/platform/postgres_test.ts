/**
 * Platform: the suite's Postgres has logical replication, and a durable
 * (permanent) slot sees committed changes only — what the outbox relay
 * relies on (SPEC design card, NOTES.md).
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { infraConfig } from "../../kit/env.ts";
import { uniqueName } from "../support/dev.ts";

const { pg } = infraConfig();

function connect() {
  return postgres({
    host: pg.host,
    port: pg.port,
    database: pg.database,
    username: pg.superuser,
    password: pg.superuserPassword,
    max: 2,
    onnotice: () => {},
  });
}

Deno.test("postgres runs with wal_level=logical and a bounded slot WAL size", async () => {
  const sql = connect();
  try {
    const [{ wal_level }] = await sql`show wal_level`;
    assert.equal(wal_level, "logical");
    const [{ max_slot_wal_keep_size }] = await sql`show max_slot_wal_keep_size`;
    assert.notEqual(
      max_slot_wal_keep_size,
      "-1",
      "an abandoned slot must not be able to fill the disk",
    );
  } finally {
    await sql.end();
  }
});

Deno.test("a durable logical slot shows a committed insert and never an aborted one", async () => {
  const sql = connect();
  const table = uniqueName("platform_slot");
  const slot = uniqueName("platform_slot");
  try {
    await sql`create table ${sql(table)} (id int primary key, note text)`;
    // A permanent slot (temporary = false): it outlives this connection.
    await sql`select pg_create_logical_replication_slot(${slot}, 'test_decoding', false)`;

    await sql.begin(async (tx) => {
      await tx`insert into ${tx(table)} values (1, 'committed')`;
    });
    await assert.rejects(
      sql.begin(async (tx) => {
        await tx`insert into ${tx(table)} values (2, 'aborted')`;
        throw new Error("roll back on purpose");
      }),
      /roll back on purpose/,
    );

    // Read through a second connection after the first is gone: the slot is
    // durable, so the change is still there to be read.
    await sql.end();
    const sql2 = connect();
    try {
      const rows = await sql2<{ data: string }[]>`
        select data from pg_logical_slot_get_changes(${slot}, null, null)`;
      const inserts = rows.map((r) => r.data).filter((d) => d.includes(`public.${table}: INSERT`));
      assert.equal(inserts.length, 1, `exactly one insert decoded, got ${JSON.stringify(inserts)}`);
      assert.match(inserts[0], /id\[integer\]:1 note\[text\]:'committed'/);
      const [{ temporary }] = await sql2`
        select temporary from pg_replication_slots where slot_name = ${slot}`;
      assert.equal(temporary, false);
    } finally {
      await sql2`select pg_drop_replication_slot(${slot})`;
      await sql2`drop table ${sql2(table)}`;
      await sql2.end();
    }
  } catch (err) {
    await sql.end().catch(() => {});
    throw err;
  }
});
