/**
 * The guard behind the kit's rule that events and inbox claims are written in
 * the caller's transaction, never through a pool.
 *
 * @module
 */
import type postgres from "postgres";

/** A postgres.js transaction: what `sql.begin(async (tx) => …)` hands its callback. */
export type Tx = postgres.TransactionSql;

/**
 * Throws a TypeError unless `tx` is a postgres.js transaction. The types
 * already refuse a pool; this catches `as any` and plain JavaScript callers.
 */
export function assertTransaction(tx: unknown, what: string): asserts tx is Tx {
  const candidate = tx as { savepoint?: unknown } | null;
  if (typeof tx !== "function" || typeof candidate?.savepoint !== "function") {
    throw new TypeError(
      `${what} needs the caller's transaction (sql.begin(async (tx) => …)), not a pool ` +
        "or a connection: the write must commit or roll back with the caller's change",
    );
  }
}
