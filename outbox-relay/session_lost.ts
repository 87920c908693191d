/**
 * How a relay session knows it is over (issue 15 item 2). A relay whose
 * Kafka commit failed retries with a new producer, and a new producer's
 * registration fences whoever holds the transactional id now — possibly the
 * relay that took the slot over meanwhile. So before each retry the session
 * checks that it still holds the slot, and after it the checkpoint it reads
 * back decides: ours (the failed commit went through after all), unchanged
 * (send again), or moved by someone else (stop: what we hold in memory was
 * published by another relay).
 *
 * @module
 */
import { formatLsn } from "./lsn.ts";

/** This session must stop at once: another relay holds the slot or has published further. */
export class SessionLostError extends Error {
  override name = "SessionLostError";
}

const show = (lsn: bigint | null) => lsn === null ? "none" : formatLsn(lsn);

/**
 * What the checkpoint read after a failed commit says about the batch ending
 * at `last`, given the checkpoint this session last committed (`mine`):
 * "committed" (the failed attempt went through), or "not-committed" (send it
 * again). Throws SessionLostError when another relay moved it.
 */
export function judgeCheckpointAfterRetry(
  mine: bigint | null,
  read: bigint | null,
  last: bigint,
): "committed" | "not-committed" {
  if (read !== null && read === last) return "committed";
  if (read === mine) return "not-committed";
  if (read === null || (mine !== null && read < mine)) {
    throw new SessionLostError(
      `the checkpoint went back from ${show(mine)} to ${show(read)}: it is not ours to continue`,
    );
  }
  throw new SessionLostError(
    `another relay published up to ${formatLsn(read)} while this one held events up to ${
      formatLsn(last)
    } (its checkpoint: ${show(mine)}): ending the session without publishing them`,
  );
}
