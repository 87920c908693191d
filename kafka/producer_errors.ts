/**
 * What a producer's errors mean: fenced by a newer instance, closed, or
 * refused because the coordinator is still finishing the last transaction.
 *
 * @module
 */

/** Raised when another producer with our transactional id has taken over. */
export class ProducerFencedError extends Error {
  override name = "ProducerFencedError";
}

/**
 * Raised by a producer used after close(). A new kafkajs producer would
 * register the transactional id again and fence whoever holds it now: the
 * owner of a closed producer (a relay session that ended) must not.
 */
export class ProducerClosedError extends Error {
  override name = "ProducerClosedError";
}

/** True when `err`, or an error it wraps, is a Kafka protocol error of one of `types`. */
function hasKafkaErrorType(err: unknown, types: ReadonlySet<string>): boolean {
  let e = err as { type?: string; cause?: unknown; originalError?: unknown } | undefined;
  for (let depth = 0; e && depth < 5; depth++) {
    if (e.type && types.has(e.type)) return true;
    e = (e.originalError ?? e.cause) as typeof e;
  }
  return false;
}

const FENCED_TYPES = new Set([
  "INVALID_PRODUCER_EPOCH",
  "PRODUCER_FENCED",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
]);

/** True for errors that mean a newer instance owns the transactional id. */
export function isFencingError(err: unknown): boolean {
  return hasKafkaErrorType(err, FENCED_TYPES);
}

const CONCURRENT_TYPES = new Set(["CONCURRENT_TRANSACTIONS"]);

/**
 * The coordinator is still finishing the previous transaction (writing its
 * markers) and refused to add partitions to the next one. Nothing was
 * produced by the refused request: an outcome we know, unlike a timeout.
 */
export function isConcurrentTransactionsError(err: unknown): boolean {
  return hasKafkaErrorType(err, CONCURRENT_TYPES);
}
