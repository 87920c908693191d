/**
 * What a dead letter is and what becomes of it (SPEC §9.2), without I/O:
 * reading a DLQ record (a consumer's, kit/dead_letter.ts, or the relay's,
 * outbox-relay/messages.ts), the fingerprint that makes two records the same
 * dead letter, whether it is worth re-sending, its next state when it
 * arrives (again), and the record a replay sends back to the original topic.
 *
 * @module
 */
import { DLQ_HEADERS } from "../../../kit/dead_letter.ts";
import type { IncomingMessage, OutgoingMessage } from "../../../kafka/mod.ts";

export type DeadLetterStatus = "PENDING" | "REPLAYED" | "NON_RETRYABLE" | "RESOLVED";
export const STATUSES: readonly DeadLetterStatus[] = [
  "PENDING",
  "REPLAYED",
  "NON_RETRYABLE",
  "RESOLVED",
];

/** Who wrote it: an inbox consumer (kit/consumer.ts) or the outbox relay. */
export type Source = "consumer" | "relay";

/** Headers a replay adds to the re-sent record. */
export const REPLAY_HEADERS = {
  replayedAt: "replayed-at",
  /** The dead letter's id: a replay that fails again comes back to its row. */
  deadLetterId: "dead-letter-id",
  replayCount: "replay-count",
} as const;

/**
 * Reasons worth re-sending: the handler failed (a bug since fixed, a
 * dependency that was down). Poison (not-json, bad-envelope, empty-value)
 * and a handler's rejection (`rejected`: the payload breaks the contract)
 * fail the same way every time.
 */
export const RETRYABLE_REASONS: ReadonlySet<string> = new Set(["handler-failed"]);

/** A DLQ record, read. */
export interface DeadLetterRecord {
  fingerprint: string;
  source: Source;
  retryable: boolean;
  dlqTopic: string;
  dlqPartition: number;
  dlqOffset: string;
  originalTopic: string;
  originalPartition: number | null;
  originalOffset: string | null;
  key: string | null;
  value: Uint8Array | null;
  headers: Record<string, string>;
  eventId: string | null;
  eventType: string | null;
  consumer: string | null;
  consumerGroup: string | null;
  reason: string;
  detail: string | null;
  errorClass: string | null;
  errorMessage: string | null;
  attempts: number | null;
  traceparent: string | null;
  firstFailureAt: Date | null;
  lastFailureAt: Date | null;
  /** The row a replay came from (`dead-letter-id` header), if any. */
  replayOf: string | null;
}

function intOrNull(v: string | undefined): number | null {
  if (v === undefined || !/^\d{1,9}$/.test(v)) return null;
  return Number(v);
}

function dateOrNull(v: string | undefined): Date | null {
  if (!v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

function text(v: string | undefined, max = 2_000): string | null {
  if (v === undefined || v === "") return null;
  return v.length > max ? `${v.slice(0, max)}…` : v;
}

/** `stock-events-dlq` → `stock-events`. */
export function originalTopicOf(dlqTopic: string): string {
  return dlqTopic.endsWith("-dlq") ? dlqTopic.slice(0, -"-dlq".length) : dlqTopic;
}

/**
 * Reads a record of a DLQ topic. Never throws: a record without the headers
 * a dead letter should have (someone wrote junk to a DLQ) is still stored,
 * with what can be told, as non-retryable.
 */
export function readDeadLetter(m: IncomingMessage, relayDlqTopic: string): DeadLetterRecord {
  const h = m.headers;
  const H = DLQ_HEADERS;
  const source: Source = m.topic === relayDlqTopic ? "relay" : "consumer";
  const originalTopic = text(h[H.originalTopic], 300) ??
    (source === "relay" ? "unknown" : originalTopicOf(m.topic));
  const originalPartition = intOrNull(h[H.originalPartition]);
  const originalOffset = /^\d{1,19}$/.test(h[H.originalOffset] ?? "") ? h[H.originalOffset] : null;
  const eventId = text(h[H.eventId], 200);
  const consumer = source === "relay" ? "outbox-relay" : text(h[H.consumer], 200);
  const reason = text(h[H.reason], 100) ?? "unknown";
  const where = eventId !== null
    ? `event|${eventId}`
    : originalOffset !== null && originalPartition !== null
    ? `offset|${originalTopic}/${originalPartition}/${originalOffset}`
    : `dlq|${m.topic}/${m.partition}/${m.offset}`;
  const hasOrigin = h[H.originalTopic] !== undefined;
  return {
    fingerprint: `${consumer ?? "unknown"}|${where}`,
    source,
    // The relay's value is its report, not the original record: re-sending
    // it would publish junk. Its fix is the row, then `deno task replay`.
    retryable: source === "consumer" && hasOrigin && RETRYABLE_REASONS.has(reason),
    dlqTopic: m.topic,
    dlqPartition: m.partition,
    dlqOffset: m.offset,
    originalTopic,
    originalPartition,
    originalOffset,
    key: m.key,
    value: m.value,
    headers: h,
    eventId,
    eventType: text(h[H.eventType], 200),
    consumer,
    consumerGroup: text(h[H.consumerGroup], 200),
    reason,
    detail: text(h[H.detail]) ?? (hasOrigin ? null : "a record without dead-letter headers"),
    errorClass: text(h[H.errorClass], 200),
    errorMessage: text(h[H.errorMessage]),
    attempts: intOrNull(h[H.attempts]),
    traceparent: text(h.traceparent, 200),
    firstFailureAt: dateOrNull(h[H.firstFailureAt]),
    lastFailureAt: dateOrNull(h[H.lastFailureAt]),
    replayOf: /^\d{1,18}$/.test(h[REPLAY_HEADERS.deadLetterId] ?? "")
      ? h[REPLAY_HEADERS.deadLetterId]
      : null,
  };
}

/** What a dead letter that arrives again for a known row does to it. */
export interface Arrival {
  status: DeadLetterStatus;
  /** True when this arrival made it non-retryable after its replays: alert. */
  becamePermanent: boolean;
}

/**
 * The state after a record arrives for an existing dead letter that has
 * been replayed `replays` times. More than `maxRetries` re-sends are not
 * made (SPEC §9.2): a dead letter that fails again after its `maxRetries`-th
 * replay is NON_RETRYABLE. A NON_RETRYABLE one stays so; a RESOLVED one that
 * fails again (re-sent by other means) is open again.
 */
export function arriveAgain(
  current: DeadLetterStatus,
  retryable: boolean,
  replays: number,
  maxRetries: number,
): Arrival {
  if (current === "NON_RETRYABLE") return { status: "NON_RETRYABLE", becamePermanent: false };
  if (!retryable) return { status: "NON_RETRYABLE", becamePermanent: false };
  if (replays >= maxRetries) return { status: "NON_RETRYABLE", becamePermanent: true };
  return { status: "PENDING", becamePermanent: false };
}

/** The state of a dead letter seen for the first time. */
export function firstArrival(retryable: boolean): DeadLetterStatus {
  return retryable ? "PENDING" : "NON_RETRYABLE";
}

/** Header names a consumer's dead letter adds; a replay strips them. */
const ADDED: ReadonlySet<string> = new Set(
  Object.values(DLQ_HEADERS).filter((n) =>
    n !== DLQ_HEADERS.eventId && n !== DLQ_HEADERS.eventType
  ),
);

/**
 * The record a replay sends: the original key, value and headers (without
 * the dead letter's own), to the original topic and partition, marked with
 * when, which dead letter and how many times.
 */
export function replayMessage(
  row: {
    id: string;
    key: string | null;
    value: Uint8Array | null;
    headers: Record<string, string>;
    originalPartition: number | null;
    replays: number;
  },
  now: Date,
): OutgoingMessage {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(row.headers)) if (!ADDED.has(k)) headers[k] = v;
  headers[REPLAY_HEADERS.replayedAt] = now.toISOString();
  headers[REPLAY_HEADERS.deadLetterId] = row.id;
  headers[REPLAY_HEADERS.replayCount] = String(row.replays + 1);
  return {
    key: row.key,
    value: row.value,
    headers,
    ...(row.originalPartition === null ? {} : { partition: row.originalPartition }),
  };
}
