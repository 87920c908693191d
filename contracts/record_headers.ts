/**
 * What every Kafka record of the suite carries besides its payload, as
 * JSON Schemas for the AsyncAPI document: the envelope (kit/envelope.ts)
 * that is the record's value, the headers the relay sets
 * (outbox-relay/messages.ts) and the headers a dead letter adds
 * (kit/dead_letter.ts DLQ_HEADERS). asyncapi_test.ts checks these against
 * a record the relay really builds.
 *
 * @module
 */
import { DLQ_HEADERS } from "../kit/dead_letter.ts";

type JsonSchema = Record<string, unknown>;

const text = (description: string): JsonSchema => ({ type: "string", description });

/** The headers of every event record, as outbox-relay/messages.ts toRecord() sets them. */
export const RECORD_HEADERS: JsonSchema = {
  type: "object",
  description: "Kafka record headers (string values). The outbox row's own headers come first; " +
    "the relay's are set over them.",
  required: ["event-id", "event-type", "aggregate-type", "aggregate-id", "source-schema"],
  properties: {
    "event-id": text("The outbox row's event id (a UUID): the consumers' inbox key."),
    "event-type": text("The envelope's type, e.g. OrderPlaced."),
    "aggregate-type": text("order, stock, coupon or point."),
    "aggregate-id": text("Which aggregate changed."),
    "source-lsn": text("The WAL commit position the relay read the row at (streamed records)."),
    "replayed-at": text("ISO time: the record was re-sent from the outbox (replay), not streamed."),
    "source-schema": text("The publishing service's Postgres schema: orders, inventory, …"),
    traceparent: text("W3C trace context of the writer's span, when it had one."),
    tracestate: text("W3C trace state, when the writer had one."),
  },
};

/** The value of every event record. */
export function envelopeSchema(type: string, payloadRef: string): JsonSchema {
  return {
    type: "object",
    description: "The event envelope (kit/envelope.ts); consumers parse `payload` with the " +
      "type's schema and dead-letter a record that does not match.",
    required: ["id", "type", "aggregateType", "aggregateId", "occurredAt", "payload"],
    properties: {
      id: { type: "string", format: "uuid", description: "The event id (as header event-id)." },
      type: { type: "string", const: type },
      aggregateType: text("As header aggregate-type."),
      aggregateId: text("As header aggregate-id."),
      occurredAt: {
        type: "string",
        format: "date-time",
        description: "When the event was written to the outbox.",
      },
      payload: { $ref: payloadRef },
    },
  };
}

/** The headers a consumer's dead letter adds to the original record's. */
export const DEAD_LETTER_HEADERS: JsonSchema = {
  type: "object",
  description: "The original record's headers, plus where it came from, who gave up and why.",
  required: [DLQ_HEADERS.originalTopic, DLQ_HEADERS.reason],
  properties: Object.fromEntries(
    Object.values(DLQ_HEADERS).map((header) => [header, { type: "string" }]),
  ),
};
