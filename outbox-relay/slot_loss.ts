/**
 * When the replication slot and the Kafka checkpoint stop describing the same
 * history (issue 15 item 3). The relay skips what the checkpoint covers by
 * WAL position; that is right only while both belong together. Two ways they
 * come apart, both after a slot is dropped and made again (by an operator,
 * by `./dev up`'s migration, after a failover to a replica or a restore from
 * a backup):
 *
 * - **slot_missing / slot_recreated**: events committed between the old
 *   slot's last position and the new slot's start were never decoded, so the
 *   new slot cannot deliver them. The relay never confirms a position past
 *   its checkpoint (relay.ts), so a slot that starts past the checkpoint was
 *   made by someone else. A missing slot whose relay.progress row shows that
 *   a relay published through it is not made again by the relay.
 * - **wal_behind**: Postgres is back in the past (a restore, a lagging
 *   replica) while Kafka holds the checkpoint of the future: new transactions
 *   get positions at or below the checkpoint and would be skipped as
 *   published. A checkpoint records the newest commit time it covers, so a
 *   transaction at or below it that committed later cannot be covered.
 *
 * In each case the relay refuses to publish (relay_blocked{reason}, /health,
 * the RelaySlotLost alert) until an operator re-baselines (rebaseline.ts).
 *
 * @module
 */
import type { Checkpoint } from "./checkpoint.ts";
import { formatLsn } from "./lsn.ts";

export type SlotLossReason = "slot_missing" | "slot_recreated" | "wal_behind";

export const REBASELINE_COMMAND = "deno task rebaseline --from <time>";

/** The relay must not publish from this slot until an operator re-baselines. */
export class SlotLostError extends Error {
  override name = "SlotLostError";
  readonly reason: SlotLossReason;

  constructor(reason: SlotLossReason, message: string) {
    super(`${message}; nothing is published until an operator runs \`${REBASELINE_COMMAND}\``);
    this.reason = reason;
  }
}

/** Throws when a slot that a relay published through (per relay.progress) is gone. */
export function assertSlotNotLost(
  slot: string,
  slotExists: boolean,
  lastProgress: { confirmedLsn: string; updatedAt: Date } | null,
): void {
  if (slotExists || lastProgress === null) return;
  throw new SlotLostError(
    "slot_missing",
    `replication slot ${slot} is gone, but a relay confirmed ${lastProgress.confirmedLsn} through it at ${lastProgress.updatedAt.toISOString()}: events committed since were never decoded`,
  );
}

/** Throws when the slot starts past the checkpoint: someone else made it. */
export function assertSlotNotRecreated(
  slot: string,
  slotStart: bigint,
  checkpoint: Checkpoint | null,
): void {
  // Older relays confirmed idle positions past their checkpoint: no verdict.
  if (checkpoint === null || !checkpoint.slotBounded || slotStart <= checkpoint.lsn) return;
  throw new SlotLostError(
    "slot_recreated",
    `replication slot ${slot} starts at ${formatLsn(slotStart)}, past the checkpoint ${
      formatLsn(checkpoint.lsn)
    }: it was made again, and events committed in between are not in it`,
  );
}

/** Throws for a transaction at or below the checkpoint that committed after what it covers. */
export function assertNotBehindCheckpoint(
  tx: { commitEndLsn: bigint; commitTime: Date },
  checkpoint: { lsn: bigint | null; commitTime: Date | null },
): void {
  if (checkpoint.lsn === null || checkpoint.commitTime === null) return;
  if (tx.commitEndLsn > checkpoint.lsn || tx.commitTime <= checkpoint.commitTime) return;
  throw new SlotLostError(
    "wal_behind",
    `a transaction committed at ${tx.commitTime.toISOString()} ends at ${
      formatLsn(tx.commitEndLsn)
    }, at or below the checkpoint ${
      formatLsn(checkpoint.lsn)
    }, which covers commits up to ${checkpoint.commitTime.toISOString()}: the WAL is behind Kafka (a restore or a failover)`,
  );
}
