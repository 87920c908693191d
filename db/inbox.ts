/**
 * Consuming a message exactly once in effect: a consumer's transaction first
 * claims the message in its schema's `inbox` table; a message already claimed
 * (a redelivery) is skipped. Kafka delivers at least once; the claim and the
 * handler's changes commit together, so they happen once (SPEC §4.5, with
 * inbox tables instead of Redis as the design card asks).
 *
 * @module
 */
import { assertTransaction, type Tx } from "./transaction.ts";

/**
 * Records that `consumer` handles `messageId`; true when this is the first
 * time, false when it was handled already (then change nothing and commit).
 * Make it the FIRST statement of the consumer's transaction.
 *
 * Two instances racing on one message: the second insert waits on the unique
 * index until the first transaction ends, then gets false if it committed or
 * true if it rolled back. That holds in READ COMMITTED (the default); under
 * REPEATABLE READ or SERIALIZABLE the loser gets a serialization failure
 * instead, and its retry gets false.
 *
 * @example
 * ```ts ignore
 * await sql.begin(async (tx) => {
 *   if (!await claimInbox(tx, "inventory.stock-deduction", eventId)) return; // duplicate
 *   await deductStock(tx, payload);
 *   await appendOutbox(tx, stockDeducted(payload));
 * });
 * ```
 */
export async function claimInbox(tx: Tx, consumer: string, messageId: string): Promise<boolean> {
  assertTransaction(tx, "claimInbox()");
  if (typeof consumer !== "string" || consumer === "") {
    throw new TypeError("claimInbox(): consumer must be a non-empty string");
  }
  if (typeof messageId !== "string" || messageId === "") {
    throw new TypeError("claimInbox(): messageId must be a non-empty string");
  }
  const rows = await tx`
    insert into inbox (consumer, message_id) values (${consumer}, ${messageId})
    on conflict do nothing
    returning message_id`;
  return rows.length === 1;
}

/**
 * {@link claimInbox} for several messages in one statement: the ids of
 * `messageIds` claimed now (first time), without those handled already. An
 * id given twice is claimed once: its second message is a duplicate of the
 * first, however the caller tells them apart. Make it the FIRST statement of
 * the transaction; racing claims behave as claimInbox's do.
 *
 * @example
 * ```ts ignore
 * await sql.begin(async (tx) => {
 *   const fresh = await claimInboxBatch(tx, "order.saga-replies", events.map((e) => e.id));
 *   for (const e of events) if (fresh.delete(e.id)) await handle(tx, e); // once per id
 * });
 * ```
 */
export async function claimInboxBatch(
  tx: Tx,
  consumer: string,
  messageIds: readonly string[],
): Promise<Set<string>> {
  assertTransaction(tx, "claimInboxBatch()");
  if (typeof consumer !== "string" || consumer === "") {
    throw new TypeError("claimInboxBatch(): consumer must be a non-empty string");
  }
  for (const id of messageIds) {
    if (typeof id !== "string" || id === "") {
      throw new TypeError("claimInboxBatch(): every messageId must be a non-empty string");
    }
  }
  if (messageIds.length === 0) return new Set();
  // Distinct and sorted: one row per id (a second would conflict with the
  // first in the same statement), taken in one order by every claimer.
  const ids = [...new Set(messageIds)].sort();
  const rows = await tx<{ message_id: string }[]>`
    insert into inbox (consumer, message_id)
    select ${consumer}, id from unnest(${ids}::text[]) as id order by id
    on conflict do nothing
    returning message_id`;
  return new Set(rows.map((r) => r.message_id));
}
