/**
 * Helpers for the db kit's tests, against the real Postgres of `./dev`.
 *
 * @module
 */
import { connectAdmin, type Sql } from "./connect.ts";
import { migrate } from "./migrate.ts";
import type { OutboxEvent } from "./outbox.ts";

/** A name unique to this run, safe as an id or an unquoted identifier. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${crypto.randomUUID().slice(0, 8)}`;
}

let migrated: Promise<unknown> | undefined;

/**
 * Brings the suite's database up to date once per test process (`./dev`
 * already does on start-up; this makes `deno test db/` work on its own).
 */
export function ensureMigrated(): Promise<unknown> {
  migrated ??= (async () => {
    const sql = connectAdmin({ max: 1 });
    try {
      await migrate(sql);
    } finally {
      await sql.end();
    }
  })();
  return migrated;
}

/**
 * Runs `fn` against a throw-away database (fully migrated unless told
 * otherwise), then drops it. For tests whose work is database-wide, such as
 * migrations and retention, so that they touch nobody else's rows.
 */
export async function withScratchDatabase(
  fn: (database: string, admin: Sql) => Promise<void>,
  opts: { migrated?: boolean } = {},
): Promise<void> {
  const database = uniqueName("db_test");
  const server = connectAdmin({ max: 1 });
  try {
    await server`create database ${server(database)}`;
    const admin = connectAdmin({ database, max: 4 });
    try {
      if (opts.migrated ?? true) await migrate(admin);
      await fn(database, admin);
    } finally {
      await admin.end();
    }
  } finally {
    await server`drop database if exists ${server(database)} with (force)`;
    await server.end();
  }
}

/** A valid event on order-events; override what the test is about. */
export function sampleEvent(overrides: Partial<OutboxEvent> = {}): OutboxEvent {
  const orderId = uniqueName("order");
  return {
    aggregateType: "order",
    aggregateId: orderId,
    eventType: "OrderCreated",
    topic: "order-events",
    key: "user-1",
    payload: { orderId, userId: "user-1", items: [{ productId: "p-1", quantity: 2 }] },
    ...overrides,
  };
}

/** The SQLSTATE of a postgres.js error (e.g. 42501 for permission denied). */
export function sqlState(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code;
}
