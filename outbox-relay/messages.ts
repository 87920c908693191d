/**
 * How an outbox row becomes a Kafka record, and which rows cannot be
 * published (they go to the relay's dead-letter topic with the reason,
 * instead of stalling the stream).
 *
 * Record value: a JSON envelope `{ id, type, aggregateType, aggregateId,
 * occurredAt, payload }`. Record key: the row's key (SPEC §3.2: user id,
 * coupon id, product id, order id). Headers: `event-id`, `event-type`,
 * `aggregate-type`, `aggregate-id`, `source-lsn`, `source-schema`, and the
 * row's own headers (`traceparent`, `tracestate`, …).
 *
 * @module
 */
import type { OutgoingMessage } from "../kafka/mod.ts";
import { formatLsn } from "./lsn.ts";
import type { OutboxRow } from "./wal_reader.ts";

/** Kafka's default max message size is ~1 MB; stay safely under it. */
export const DEFAULT_MAX_RECORD_BYTES = 900_000;

export type RecordOrPoison =
  | { ok: true; topic: string; message: OutgoingMessage }
  | { ok: false; reason: string; detail: string };

export interface EnvelopeOptions {
  knownTopics: ReadonlySet<string>;
  maxRecordBytes?: number;
}

/**
 * Builds the Kafka record for a row, or says why the row is poison. `lsn` is
 * the commit position the row was streamed at (null for a replay from the
 * event store, which marks the record `replayed-at` instead).
 */
export function toRecord(
  row: OutboxRow,
  lsn: bigint | null,
  opts: EnvelopeOptions,
): RecordOrPoison {
  if (!opts.knownTopics.has(row.topic)) {
    return {
      ok: false,
      reason: "unknown-topic",
      detail: `topic ${JSON.stringify(row.topic)} does not exist`,
    };
  }
  if (row.key === "") {
    return { ok: false, reason: "empty-key", detail: "the partition key is empty" };
  }
  const headers = stringMap(row.headers);
  if (headers === null) {
    return {
      ok: false,
      reason: "bad-headers",
      detail: "headers must be an object of string values",
    };
  }
  if (row.payload === null || row.payload === undefined) {
    return { ok: false, reason: "bad-payload", detail: "payload is null" };
  }
  const value = JSON.stringify({
    id: row.eventId,
    type: row.eventType,
    aggregateType: row.aggregateType,
    aggregateId: row.aggregateId,
    occurredAt: row.createdAt.toISOString(),
    payload: row.payload,
  });
  const size = new TextEncoder().encode(value).length;
  const max = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  if (size > max) {
    return {
      ok: false,
      reason: "too-large",
      detail: `record is ${size} bytes, the limit is ${max}`,
    };
  }
  return {
    ok: true,
    topic: row.topic,
    message: {
      key: row.key,
      value,
      headers: {
        ...headers,
        "event-id": row.eventId,
        "event-type": row.eventType,
        "aggregate-type": row.aggregateType,
        "aggregate-id": row.aggregateId,
        ...(lsn === null
          ? { "replayed-at": new Date().toISOString() }
          : { "source-lsn": formatLsn(lsn) }),
        "source-schema": row.schema,
      },
    },
  };
}

/** The dead letter for a poison row: the reason, and the row without an oversized payload. */
export function toDeadLetter(
  row: OutboxRow,
  lsn: bigint,
  reason: string,
  detail: string,
): OutgoingMessage {
  const payloadText = JSON.stringify(row.payload) ?? "null";
  return {
    key: row.eventId,
    value: JSON.stringify({
      reason,
      detail,
      event: {
        id: row.eventId,
        schema: row.schema,
        type: row.eventType,
        aggregateType: row.aggregateType,
        aggregateId: row.aggregateId,
        topic: row.topic,
        key: row.key,
        occurredAt: row.createdAt.toISOString(),
        headers: row.headers,
        // The full row stays in the outbox table (the event store); only a
        // payload that fits is copied here.
        payload: payloadText.length <= 100_000 ? row.payload : undefined,
        payloadBytes: payloadText.length,
      },
    }),
    headers: {
      "dlq-reason": reason,
      "dlq-detail": detail,
      "event-id": row.eventId,
      "original-topic": row.topic,
      "source-lsn": formatLsn(lsn),
      "source-schema": row.schema,
    },
  };
}

function stringMap(v: unknown): Record<string, string> | null {
  if (v === null || v === undefined) return {};
  if (typeof v !== "object" || Array.isArray(v)) return null;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== "string") return null;
    out[k] = x;
  }
  return out;
}
