/**
 * The dead letter a consumer writes for a message it gives up on (SPEC §9.2):
 * to `<topic>-dlq`, with the original key, value and headers unchanged (so
 * the DLQ handler can re-send it to its original topic as it was), plus
 * headers saying where it came from, who failed on it and why.
 *
 * @module
 */
import type { IncomingMessage, OutgoingMessage } from "../kafka/mod.ts";
import type { EventEnvelope } from "./envelope.ts";

/** The header names a dead letter adds (the original's own headers stay). */
export const DLQ_HEADERS = {
  originalTopic: "original-topic",
  originalPartition: "original-partition",
  originalOffset: "original-offset",
  originalTimestamp: "original-timestamp",
  /** `handler-failed`, `rejected`, `not-json`, `bad-envelope`, `empty-value`. */
  reason: "dlq-reason",
  /** A sentence for operators. */
  detail: "dlq-detail",
  errorClass: "error-class",
  errorMessage: "error-message",
  /** How many times the handler ran (1 for poison, which never reaches it). */
  attempts: "attempts",
  firstFailureAt: "first-failure-at",
  lastFailureAt: "last-failure-at",
  /** The inbox consumer name and group that gave up: one topic has many consumers. */
  consumer: "consumer",
  consumerGroup: "consumer-group",
  eventId: "event-id",
  eventType: "event-type",
} as const;

/** Why and when a message failed. */
export interface Failure {
  reason: string;
  detail: string;
  /** The last error thrown, when a handler ran. */
  error?: unknown;
  attempts: number;
  firstFailureAt: Date;
  lastFailureAt: Date;
}

/** Error messages can be long (a whole SQL statement); headers need not be. */
const MAX_ERROR_MESSAGE = 2_000;

function errorClassOf(err: unknown): string {
  if (err instanceof Error) return err.name !== "Error" ? err.name : err.constructor.name;
  return err === null ? "null" : typeof err;
}

function errorMessageOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > MAX_ERROR_MESSAGE ? `${text.slice(0, MAX_ERROR_MESSAGE)}…` : text;
}

/**
 * The record to write to `dlqTopicOf(message.topic)`. `event` is the parsed
 * envelope when there is one (poison has none: its `event-id` header, if
 * any, is the relay's).
 */
export function deadLetterOf(
  message: IncomingMessage,
  failure: Failure,
  who: { consumer: string; groupId: string },
  event?: EventEnvelope,
): OutgoingMessage {
  const H = DLQ_HEADERS;
  const headers: Record<string, string> = {
    ...message.headers, // traceparent, source-lsn, … as they came
    [H.originalTopic]: message.topic,
    [H.originalPartition]: String(message.partition),
    [H.originalOffset]: message.offset,
    [H.originalTimestamp]: Number.isFinite(message.timestamp) && message.timestamp >= 0
      ? new Date(message.timestamp).toISOString()
      : "",
    [H.reason]: failure.reason,
    [H.detail]: failure.detail,
    [H.attempts]: String(failure.attempts),
    [H.firstFailureAt]: failure.firstFailureAt.toISOString(),
    [H.lastFailureAt]: failure.lastFailureAt.toISOString(),
    [H.consumer]: who.consumer,
    [H.consumerGroup]: who.groupId,
  };
  if (failure.error !== undefined) {
    headers[H.errorClass] = errorClassOf(failure.error);
    headers[H.errorMessage] = errorMessageOf(failure.error);
  }
  if (event) {
    headers[H.eventId] = event.id;
    headers[H.eventType] = event.type;
  }
  return { key: message.key, value: message.value, headers };
}
