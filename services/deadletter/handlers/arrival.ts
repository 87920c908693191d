/**
 * A record of a DLQ topic arrives: store it once, count it, and raise the
 * alert (SPEC §9.2: the DLQ handler stores, alerts and notifies operators):
 * a log line at level error with `alert: "dead_letter"` for every new dead
 * letter and every one failing again, `alert: "dead_letter_permanent"` when
 * one ran out of retries.
 *
 * @module
 */
import type { IncomingMessage } from "../../../kafka/mod.ts";
import { readDeadLetter } from "../domain/dead_letter.ts";
import { storeArrival, type StoreOutcome } from "../store.ts";
import type { DeadLetterDeps } from "./deps.ts";

export async function handleArrival(
  deps: DeadLetterDeps,
  message: IncomingMessage,
): Promise<StoreOutcome> {
  const record = readDeadLetter(message, deps.relayDlqTopic);
  const outcome = await storeArrival(deps.sql, record, deps.maxRetries);
  if (outcome.kind === "duplicate") {
    deps.metrics.duplicates.inc();
    deps.log.debug("dead letter already stored", {
      dlq_topic: message.topic,
      partition: message.partition,
      offset: message.offset,
    });
    return outcome;
  }
  const l = outcome.letter;
  deps.metrics.received.inc({ topic: l.originalTopic, reason: l.reason });
  deps.log.error(outcome.kind === "new" ? "dead letter received" : "dead letter failed again", {
    alert: "dead_letter",
    dead_letter_id: l.id,
    status: l.status,
    topic: l.originalTopic,
    partition: l.originalPartition,
    offset: l.originalOffset,
    consumer: l.consumer,
    event_id: l.eventId,
    event_type: l.eventType,
    reason: l.reason,
    detail: l.detail,
    error_class: l.errorClass,
    error_message: l.errorMessage,
    failures: l.failures,
    replays: l.replays,
    traceparent: l.traceparent,
  });
  if (outcome.kind === "again" && outcome.becamePermanent) {
    deps.metrics.permanent.inc({ topic: l.originalTopic });
    deps.log.error("permanent failure: dead letter is no longer retried", {
      alert: "dead_letter_permanent",
      dead_letter_id: l.id,
      topic: l.originalTopic,
      consumer: l.consumer,
      event_id: l.eventId,
      event_type: l.eventType,
      replays: l.replays,
      error_message: l.errorMessage,
    });
  }
  return outcome;
}
