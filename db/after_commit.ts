/**
 * Work that must happen only once a transaction has committed — counting a
 * metric, for example — registered from inside it. Counting inside the
 * transaction counts changes that are then rolled back: the inbox consumer
 * rolls a failed batch back and handles its messages again one by one, so a
 * saga that ended in the batch would be counted twice (issue 15, item 7).
 *
 * `inTransaction(sql, fn)` opens the transaction and runs the callbacks
 * `fn` registered with `afterCommit(tx, …)` after its COMMIT, in order; a
 * rolled-back transaction drops them.
 *
 * @example
 * ```ts ignore
 * const order = await inTransaction(sql, async (tx) => {
 *   const row = await insertOrder(tx, …);
 *   afterCommit(tx, () => ordersCreated.inc());
 *   return row;
 * });
 * ```
 *
 * @module
 */
import type { Sql } from "./connect.ts";
import type { Tx } from "./transaction.ts";

type Callback = () => void;

const callbacksOf = new WeakMap<Tx, Callback[]>();

/**
 * Runs `fn` in a transaction of `sql` (`sql.begin`); after it committed, runs
 * what `fn` registered with {@link afterCommit}, then resolves to `fn`'s result.
 */
export async function inTransaction<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const callbacks: Callback[] = [];
  const result = await sql.begin((tx) => {
    callbacksOf.set(tx, callbacks);
    return fn(tx);
  });
  for (const callback of callbacks) {
    // Committed is committed: a failing callback must not make the caller
    // think the transaction failed (and do its work again).
    try {
      callback();
    } catch (err) {
      console.error("an after-commit callback failed", err);
    }
  }
  return result as T;
}

/**
 * Runs `callback` once the transaction `tx` has committed, never when it
 * rolls back. `tx` must come from {@link inTransaction}: on any other
 * transaction nobody would run the callback, so that is a TypeError.
 */
export function afterCommit(tx: Tx, callback: Callback): void {
  const callbacks = callbacksOf.get(tx);
  if (!callbacks) {
    throw new TypeError(
      "afterCommit() needs a transaction opened by inTransaction(sql, …): " +
        "with sql.begin() nobody runs the callback after the commit",
    );
  }
  callbacks.push(callback);
}
