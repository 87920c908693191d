/**
 * The migration runner: applies `db/migrations/NNNN_name.sql` in order, each
 * file in its own transaction, records what it applied in
 * `meta.schema_migrations`, then sets the roles' passwords from the
 * environment. Re-running applies nothing new; two runs at once are safe:
 * every step takes the same transaction-level advisory lock, and re-reads
 * what is applied once it holds it.
 *
 * As a script (`./dev` runs it after starting Postgres):
 *   deno run -A db/migrate.ts
 *
 * @module
 */
import type postgres from "postgres";
import { connectAdmin } from "./connect.ts";
import { DB_ROLES, type DbRole, rolePassword } from "./roles.ts";

/** The advisory lock key every migration step holds (an arbitrary constant). */
const LOCK_KEY = 4_150_428_001;

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** One migration file. */
export interface Migration {
  /** `0001`: the order migrations are applied in. */
  version: string;
  /** `0001_roles_and_schemas`. */
  name: string;
  sql: string;
  /** sha256 of the file, so a file edited after it was applied is noticed. */
  checksum: string;
}

/** Raised when the migrations folder, or the database's record of it, is inconsistent. */
export class MigrationError extends Error {
  override name = "MigrationError";
}

export interface MigrateOptions {
  /** The folder of `NNNN_name.sql` files (default: db/migrations/). */
  dir?: URL;
  /** Set the roles' passwords from the environment after the files (default true). */
  setPasswords?: boolean;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reads a migrations folder, sorted by version; rejects stray or duplicate names. */
export async function readMigrations(dir: URL): Promise<Migration[]> {
  const found: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".sql")) continue;
    const m = FILE_NAME.exec(entry.name);
    if (!m) {
      throw new MigrationError(`${entry.name}: migration files are named NNNN_snake_case.sql`);
    }
    const sql = await Deno.readTextFile(new URL(entry.name, dir));
    found.push({ version: m[1], name: entry.name.slice(0, -4), sql, checksum: await sha256(sql) });
  }
  found.sort((a, b) => a.version.localeCompare(b.version));
  for (let i = 1; i < found.length; i++) {
    if (found[i].version === found[i - 1].version) {
      throw new MigrationError(
        `${found[i - 1].name} and ${found[i].name} have the same version`,
      );
    }
  }
  return found;
}

async function lock(tx: postgres.TransactionSql): Promise<void> {
  await tx`select pg_advisory_xact_lock(${LOCK_KEY})`;
}

interface Applied {
  version: string;
  name: string;
  checksum: string;
}

/**
 * Applies the migrations not yet applied, in order, and returns their names
 * (empty when the database was up to date). Connect as the superuser.
 */
export async function migrate(sql: postgres.Sql, opts: MigrateOptions = {}): Promise<string[]> {
  const log = opts.log ?? (() => {});
  // Read the secrets first: a missing one fails the run before it changes anything.
  const passwords = (opts.setPasswords ?? true) ? rolePasswords() : undefined;
  const migrations = await readMigrations(opts.dir ?? new URL("./migrations/", import.meta.url));

  await sql.begin(async (tx) => {
    await lock(tx);
    await tx`create schema if not exists meta`;
    await tx`
      create table if not exists meta.schema_migrations (
        version text primary key,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`;
  });

  const applied: string[] = [];
  for (const m of migrations) {
    const done = await sql.begin(async (tx) => {
      await lock(tx);
      const [row] = await tx<Applied[]>`
        select version, name, checksum from meta.schema_migrations where version = ${m.version}`;
      if (row) {
        if (row.checksum !== m.checksum) {
          throw new MigrationError(
            `${m.name} was changed after it was applied (as ${row.name}); ` +
              `add a new migration instead of editing an applied one`,
          );
        }
        return false;
      }
      await tx.unsafe(m.sql);
      await tx`
        insert into meta.schema_migrations (version, name, checksum)
        values (${m.version}, ${m.name}, ${m.checksum})`;
      return true;
    }).catch((err) => {
      if (err instanceof MigrationError) throw err;
      throw new MigrationError(`${m.name} failed: ${err.message}`, { cause: err });
    });
    if (done) {
      applied.push(m.name);
      log(`applied ${m.name}`);
    }
  }

  const known = new Set(migrations.map((m) => m.version));
  const unknown = (await sql<Applied[]>`select version, name from meta.schema_migrations`)
    .filter((r) => !known.has(r.version));
  if (unknown.length > 0) {
    log(`warning: applied but not in the folder: ${unknown.map((r) => r.name).join(", ")}`);
  }

  if (passwords) await setPasswords(sql, passwords);
  return applied;
}

/** Every role's password, from the environment. */
function rolePasswords(): Map<DbRole, string> {
  return new Map((Object.keys(DB_ROLES) as DbRole[]).map((role) => [role, rolePassword(role)]));
}

/**
 * Sets every role's password from its environment variable. The secret is a
 * bound parameter, handed to `alter role` through a transaction-local
 * setting: it is never spliced into SQL text, and is gone at commit.
 */
export async function setPasswords(
  sql: postgres.Sql,
  passwords: ReadonlyMap<DbRole, string> = rolePasswords(),
): Promise<void> {
  await sql.begin(async (tx) => {
    await lock(tx);
    for (const [role, password] of passwords) {
      await tx`select set_config('app.role_password', ${password}, true)`;
      await tx`select set_config('app.role_name', ${role}, true)`;
      await tx`
        do $$ begin
          execute format('alter role %I password %L',
            current_setting('app.role_name'), current_setting('app.role_password'));
        end $$`;
    }
  });
}

/**
 * Creates the relay's durable slot if it is missing. It must exist before
 * any service writes: a slot streams only what commits after its creation,
 * so events written before the relay's first start would never be published.
 * (Slots cannot be made in a transaction that wrote, hence not a migration file.)
 */
export async function ensureRelaySlot(sql: postgres.Sql, slot = "outbox_relay"): Promise<boolean> {
  const found = await sql`select 1 from pg_replication_slots where slot_name = ${slot}`;
  if (found.length > 0) return false;
  try {
    await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput', false)`;
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === "42710") return false; // made concurrently
    throw err;
  }
}

if (import.meta.main) {
  const sql = connectAdmin({ max: 1 });
  try {
    const applied = await migrate(sql, { log: (line) => console.log(`    ${line}`) });
    console.log(`    ok schema up to date (${applied.length} migration(s) applied)`);
    const slot = Deno.env.get("RELAY_SLOT") ?? "outbox_relay";
    if (await ensureRelaySlot(sql, slot)) console.log(`    created replication slot ${slot}`);
  } catch (err) {
    console.error(`error: ${err instanceof Error ? err.message : err}`);
    Deno.exitCode = 1;
  } finally {
    await sql.end();
  }
}
