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
