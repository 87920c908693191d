/**
 * The migration runner, on throw-away databases: it builds the schema
 * contract the relay and the services rely on, is re-runnable, is safe to run
 * twice at once, and refuses edited or broken migrations.
 */
import assert from "node:assert/strict";
import { connectAdmin } from "./connect.ts";
import { migrate, MigrationError, readMigrations } from "./migrate.ts";
import { SERVICE_SCHEMAS } from "./roles.ts";
import { withScratchDatabase } from "./testing.ts";

const ALL = (await readMigrations(new URL("./migrations/", import.meta.url))).map((m) => m.name);

Deno.test("the migrations folder holds numbered files in order", () => {
  assert.ok(ALL.length >= 3);
  assert.deepEqual(ALL, [...ALL].sort());
  assert.ok(ALL.every((name) => /^\d{4}_[a-z0-9_]+$/.test(name)));
});

Deno.test("migrate() applies every file once, and a second run applies nothing", async () => {
  await withScratchDatabase(async (_database, admin) => {
    assert.deepEqual(await migrate(admin), ALL);
    assert.deepEqual(await migrate(admin), []);
    const rows = await admin`select name from meta.schema_migrations order by version`;
    assert.deepEqual(rows.map((r) => r.name), ALL);
  }, { migrated: false });
});

Deno.test("two migrate() runs at once apply every file exactly once", async () => {
  await withScratchDatabase(async (database) => {
    const a = connectAdmin({ database, max: 2 });
    const b = connectAdmin({ database, max: 2 });
    try {
      const [ranA, ranB] = await Promise.all([migrate(a), migrate(b)]);
      assert.deepEqual([...ranA, ...ranB].sort(), ALL);
      assert.deepEqual(await migrate(a), []);
    } finally {
      await a.end();
      await b.end();
    }
  }, { migrated: false });
});

Deno.test("migrate() builds the outbox, inbox and relay tables the relay depends on", async () => {
  await withScratchDatabase(async (_database, admin) => {
    const columns = async (schema: string, table: string) =>
      (await admin<{ column_name: string; data_type: string; is_nullable: string }[]>`
        select column_name, data_type, is_nullable from information_schema.columns
        where table_schema = ${schema} and table_name = ${table} order by ordinal_position`)
        .map((c) => `${c.column_name} ${c.data_type}${c.is_nullable === "NO" ? " not null" : ""}`);
    for (const schema of SERVICE_SCHEMAS) {
      assert.deepEqual(await columns(schema, "outbox"), [
        "event_id uuid not null",
        "aggregate_type text not null",
        "aggregate_id text not null",
        "event_type text not null",
        "topic text not null",
        "key text not null",
        "payload jsonb not null",
        "headers jsonb not null",
        "created_at timestamp with time zone not null",
      ]);
      assert.deepEqual(await columns(schema, "inbox"), [
        "consumer text not null",
        "message_id text not null",
        "processed_at timestamp with time zone not null",
      ]);
      const indexes = (await admin`
        select indexdef from pg_indexes
        where schemaname = ${schema} and tablename in ('outbox', 'inbox') order by indexname`)
        .map((r) => r.indexdef.replace(/^.* USING btree /, ""));
      assert.deepEqual(indexes.sort(), [
        "(aggregate_type, aggregate_id)",
        "(consumer, message_id)",
        "(created_at)",
        "(event_id)",
        "(processed_at)",
      ]);
    }
    assert.deepEqual(await columns("relay", "heartbeat"), [
      "id bigint not null",
      "beat_at timestamp with time zone not null",
    ]);
    assert.deepEqual(await columns("relay", "progress"), [
      "slot_name text not null",
      "confirmed_lsn pg_lsn not null",
      "published_until timestamp with time zone",
      "updated_at timestamp with time zone not null",
    ]);
    const [pub] = await admin`
      select pubinsert, pubupdate, pubdelete, pubtruncate from pg_publication
      where pubname = 'outbox_pub'`;
    assert.deepEqual({ ...pub }, {
      pubinsert: true,
      pubupdate: false,
      pubdelete: false,
      pubtruncate: false,
    });
    const tables = await admin`
      select schemaname || '.' || tablename as name from pg_publication_tables
      where pubname = 'outbox_pub' order by 1`;
    assert.deepEqual(tables.map((t) => t.name), [
      "coupons.outbox",
      "inventory.outbox",
      "orders.outbox",
      "points.outbox",
      "relay.heartbeat",
    ]);
  });
});

async function withMigrationsDir(
  files: Record<string, string>,
  fn: (dir: URL) => Promise<void>,
): Promise<void> {
  const path = await Deno.makeTempDir({ prefix: "db_migrations_" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${path}/${name}`, text);
    }
    await fn(new URL(`file://${path}/`));
  } finally {
    await Deno.remove(path, { recursive: true });
  }
}

Deno.test("a migration that fails is rolled back and not recorded", async () => {
  await withMigrationsDir({
    "0001_good.sql": "create table public.good (id int);",
    "0002_bad.sql": "create table public.half_done (id int);\nselect 1 / 0;",
  }, async (dir) => {
    await withScratchDatabase(async (_database, admin) => {
      await assert.rejects(
        migrate(admin, { dir, setPasswords: false }),
        (err: Error) =>
          err instanceof MigrationError && /0002_bad failed: division by zero/.test(err.message),
      );
      const recorded = await admin`select name from meta.schema_migrations`;
      assert.deepEqual(recorded.map((r) => r.name), ["0001_good"]);
      const [{ half }] = await admin`select to_regclass('public.half_done')::text as half`;
      assert.equal(half, null);
    }, { migrated: false });
  });
});

Deno.test("migrate() refuses a migration edited after it was applied", async () => {
  await withMigrationsDir({ "0001_first.sql": "create table public.t (id int);" }, async (dir) => {
    await withScratchDatabase(async (_database, admin) => {
      assert.deepEqual(await migrate(admin, { dir, setPasswords: false }), ["0001_first"]);
      await Deno.writeTextFile(new URL("0001_first.sql", dir), "create table public.t (x int);");
      await assert.rejects(
        migrate(admin, { dir, setPasswords: false }),
        /0001_first was changed after it was applied/,
      );
    }, { migrated: false });
  });
});

Deno.test("readMigrations() refuses stray names and duplicate versions", async () => {
  await withMigrationsDir({ "0001_a.sql": "", "1_b.sql": "" }, async (dir) => {
    await assert.rejects(readMigrations(dir), /1_b\.sql: migration files are named NNNN/);
  });
  await withMigrationsDir({ "0001_a.sql": "", "0001_b.sql": "" }, async (dir) => {
    await assert.rejects(readMigrations(dir), /0001_a and 0001_b have the same version/);
  });
});
