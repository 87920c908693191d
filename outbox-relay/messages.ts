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
import { type OutgoingMessage, recordBytes } from "../kafka/mod.ts";
import { formatLsn } from "./lsn.ts";
import type { OutboxRow } from "./wal_reader.ts";

/**
 * The largest record (key, value, headers and Kafka's own fields: see
 * recordBytes()) the relay publishes. The brokers refuse a partition's record
 * batch over `message.max.bytes` (1,048,588 by default) and the producer
 * sends a record over its per-partition budget (RELAY_MAX_PARTITION_BATCH_BYTES,
 * 512 KiB) alone in its batch: anything up to this size fits, anything
 * larger is dead-lettered instead of being refused on every retry.
 */
export const DEFAULT_MAX_RECORD_BYTES = 900_000;

/** The most of a poison row's payload, headers and texts its dead letter copies. */
const DEAD_LETTER_COPY_CHARS = 100_000;
const DEAD_LETTER_TEXT_CHARS = 2_000;

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
  const payloadJson = payloadTextOf(row);
  if (payloadJson === null) {
    return { ok: false, reason: "bad-payload", detail: "payload is null" };
  }
  // The envelope around the payload's JSON text as it came (not parsed and
  // written again): the same JSON as stringifying the whole envelope.
  const value = `${
    JSON.stringify({
      id: row.eventId,
      type: row.eventType,
      aggregateType: row.aggregateType,
      aggregateId: row.aggregateId,
      occurredAt: row.createdAt.toISOString(),
    }).slice(0, -1)
  },"payload":${payloadJson}}`;
  const message: OutgoingMessage = {
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
  };
  // The whole record counts (a value under the limit with large headers or
  // a large key was refused by the brokers forever).
  const size = recordBytes(message);
  const max = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  if (size > max) {
    return {
      ok: false,
      reason: "too-large",
      detail: `record is ${size} bytes, the limit is ${max}`,
    };
  }
  return { ok: true, topic: row.topic, message };
}

/**
 * About the bytes `row`'s record takes (its payload and headers as JSON, its
 * key, the envelope and our headers): what a relay batch is bounded by.
 */
export function approximateBytes(row: OutboxRow): number {
  const json = (v: unknown) => JSON.stringify(v)?.length ?? 4;
  return (row.payloadJson?.length ?? json(row.payload)) + json(row.headers) + row.key.length +
    row.aggregateId.length + 600;
}

/** The payload's JSON text, or null when there is no payload. */
function payloadTextOf(row: OutboxRow): string | null {
  const text = row.payloadJson ?? JSON.stringify(row.payload);
  return text === undefined || text === "null" ? null : text;
}

/**
 * The dead letter for a poison row: the reason, and the row without an
 * oversized payload or headers, its texts clipped — so that it always fits
 * in Kafka (a dead letter refused by the brokers would stall the relay).
 */
export function toDeadLetter(
  row: OutboxRow,
  lsn: bigint,
  reason: string,
  detail: string,
): OutgoingMessage {
  const payloadText = payloadTextOf(row) ?? "null";
  const headersText = JSON.stringify(row.headers) ?? "null";
  return {
    key: row.eventId,
    value: JSON.stringify({
      reason,
      detail: clip(detail),
      event: {
        id: row.eventId,
        schema: row.schema,
        type: clip(row.eventType),
        aggregateType: clip(row.aggregateType),
        aggregateId: clip(row.aggregateId),
        topic: clip(row.topic),
        key: clip(row.key),
        occurredAt: row.createdAt.toISOString(),
        // The full row stays in the outbox table (the event store); only
        // headers and a payload that fit are copied here.
        headers: headersText.length <= DEAD_LETTER_COPY_CHARS ? row.headers : undefined,
        headersBytes: headersText.length,
        payload: payloadText.length <= DEAD_LETTER_COPY_CHARS ? JSON.parse(payloadText) : undefined,
        payloadBytes: payloadText.length,
      },
    }),
    headers: {
      "dlq-reason": reason,
      "dlq-detail": clip(detail),
      "event-id": row.eventId,
      "original-topic": clip(row.topic),
      "source-lsn": formatLsn(lsn),
      "source-schema": row.schema,
    },
  };
}

/** `text`, or its start and how long it was when it is longer than a dead letter keeps. */
function clip(text: string): string {
  if (text.length <= DEAD_LETTER_TEXT_CHARS) return text;
  return `${text.slice(0, DEAD_LETTER_TEXT_CHARS)}… (${text.length} characters)`;
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
