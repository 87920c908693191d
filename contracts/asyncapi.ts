/**
 * The suite's AsyncAPI 3.0 document (issue 18 item 2), built from the code:
 * topics, partitions and keys from kafka/topics.ts, every event type's
 * payload schema from its events.ts (zod 4's JSON Schema export), the
 * envelope and headers from contracts/record_headers.ts, who publishes from
 * contracts/catalog.ts and who consumes from the handlers
 * (contracts/consumers.ts). `deno task contracts` writes it to
 * docs/asyncapi.json; CI checks it is up to date (contracts/main.ts).
 *
 * @module
 */
import { z } from "zod";
import {
  allTopics,
  dlqTopicOf,
  EVENT_TOPICS,
  RELAY_CHECKPOINT_TOPIC,
  RELAY_DLQ_TOPIC,
  REPLICATION,
  type TopicSpec,
} from "../kafka/topics.ts";
import { EVENT_CONTRACTS, type EventContract } from "./catalog.ts";
import { consumersOf } from "./consumers.ts";
import { DEAD_LETTER_HEADERS, envelopeSchema, RECORD_HEADERS } from "./record_headers.ts";

type Json = Record<string, unknown>;

/**
 * The events' contract version. Its major number goes up, by hand, with a
 * deliberate breaking change: the guard accepts a break only then
 * (contracts/main.ts).
 */
export const CONTRACT_VERSION = "1.0.0";

const KAFKA_BINDING = "0.5.0";
const DEAD_LETTER = "DeadLetter";
const RELAY_DEAD_LETTER = "RelayDeadLetter";
const RELAY_CHECKPOINT = "RelayCheckpoint";

/** The JSON Schema of a payload: draft-07, AsyncAPI's default schema format; what consumers accept. */
export function payloadJsonSchema(schema: z.ZodType): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: "draft-7", io: "input" });
  return rest;
}

/** The name of `type`'s payload schema under components.schemas. */
export const payloadSchemaName = (type: string): string => `${type}Payload`;

function channel(t: TopicSpec, messages: string[], description: string): Json {
  const days = t.retentionMs > 0 ? `${t.retentionMs / 86_400_000} days` : "kept (compacted)";
  return {
    address: t.name,
    title: t.name,
    description: `${description} ${t.partitions} partition(s), keyed by ${t.key}; retention ` +
      `${days}; ${REPLICATION.replicationFactor} replicas, min.insync.replicas ` +
      `${REPLICATION.config["min.insync.replicas"]}.`,
    messages: Object.fromEntries(messages.map((m) => [m, { $ref: `#/components/messages/${m}` }])),
    bindings: {
      kafka: {
        topic: t.name,
        partitions: t.partitions,
        replicas: REPLICATION.replicationFactor,
        topicConfiguration: {
          "cleanup.policy": [t.config?.["cleanup.policy"] ?? "delete"],
          "retention.ms": t.retentionMs,
        },
        bindingVersion: KAFKA_BINDING,
      },
    },
  };
}

function eventMessage(c: EventContract): Json {
  return {
    name: c.type,
    title: c.type,
    summary: c.summary,
    contentType: "application/json",
    headers: { $ref: "#/components/schemas/RecordHeaders" },
    payload: envelopeSchema(c.type, `#/components/schemas/${payloadSchemaName(c.type)}`),
    bindings: {
      kafka: {
        key: { type: "string", description: `payload.${c.keyField}` },
        bindingVersion: KAFKA_BINDING,
      },
    },
    "x-publisher": c.publisher,
    "x-consumers": consumersOf(c.type),
  };
}

function operation(action: "send" | "receive", service: string, topic: string, msg: string) {
  return {
    action,
    title: `${service} ${action === "send" ? "publishes" : "consumes"} ${msg}`,
    channel: { $ref: `#/channels/${topic}` },
    messages: [{ $ref: `#/channels/${topic}/messages/${msg}` }],
    tags: [{ name: service }],
  };
}

function operations(): Json {
  const ops: Json = {};
  for (const c of EVENT_CONTRACTS) {
    ops[`${c.publisher}Sends${c.type}`] = operation("send", c.publisher, c.topic, c.type);
    for (const s of consumersOf(c.type)) {
      ops[`${s}Receives${c.type}`] = operation("receive", s, c.topic, c.type);
    }
  }
  for (const t of EVENT_TOPICS) {
    const dlq = dlqTopicOf(t.name);
    ops[`deadletterReceives${dlq}`] = operation("receive", "deadletter", dlq, DEAD_LETTER);
  }
  ops.relaySendsDeadLetter = operation("send", "relay", RELAY_DLQ_TOPIC, RELAY_DEAD_LETTER);
  ops.deadletterReceivesRelayDeadLetter = operation(
    "receive",
    "deadletter",
    RELAY_DLQ_TOPIC,
    RELAY_DEAD_LETTER,
  );
  ops.relaySendsCheckpoint = operation("send", "relay", RELAY_CHECKPOINT_TOPIC, RELAY_CHECKPOINT);
  return ops;
}

function channels(): Json {
  const eventTopics = new Set(EVENT_TOPICS.map((t) => t.name));
  const dlqs = new Set(EVENT_TOPICS.map((t) => dlqTopicOf(t.name)));
  return Object.fromEntries(
    allTopics().map((t) => {
      if (eventTopics.has(t.name)) {
        const types = EVENT_CONTRACTS.filter((c) => c.topic === t.name).map((c) => c.type);
        return [t.name, channel(t, types, "Events written to the outboxes, relayed exactly once.")];
      }
      if (dlqs.has(t.name)) {
        return [t.name, channel(t, [DEAD_LETTER], "Records a consumer gave up on (SPEC §9.2).")];
      }
      if (t.name === RELAY_DLQ_TOPIC) {
        return [t.name, channel(t, [RELAY_DEAD_LETTER], "Outbox rows the relay cannot publish.")];
      }
      return [t.name, channel(t, [RELAY_CHECKPOINT], "The relay's WAL position per slot.")];
    }),
  );
}

const RELAY_MESSAGES: Json = {
  [DEAD_LETTER]: {
    name: DEAD_LETTER,
    summary: "The original record, key and value unchanged, with the dead-letter headers.",
    contentType: "application/json",
    headers: { $ref: "#/components/schemas/DeadLetterHeaders" },
    payload: { description: "The original record's value (an event envelope, or poison)." },
  },
  [RELAY_DEAD_LETTER]: {
    name: RELAY_DEAD_LETTER,
    summary: "An outbox row the relay cannot publish, and why (outbox-relay/messages.ts).",
    contentType: "application/json",
    payload: {
      type: "object",
      required: ["reason", "detail", "event"],
      properties: {
        reason: {
          type: "string",
          enum: ["unknown-topic", "empty-key", "bad-headers", "bad-payload", "too-large"],
        },
        detail: { type: "string" },
        event: { type: "object", description: "The row: id, schema, type, topic, key, payload…" },
      },
    },
    bindings: {
      kafka: { key: { type: "string", description: "event id" }, bindingVersion: KAFKA_BINDING },
    },
  },
  [RELAY_CHECKPOINT]: {
    name: RELAY_CHECKPOINT,
    summary: "The WAL position a relay's Kafka transaction ended at (compacted by slot).",
    contentType: "application/json",
    payload: {
      type: "object",
      required: ["lsn", "by", "at"],
      properties: {
        lsn: { type: "string" },
        by: { type: "string" },
        at: { type: "string", format: "date-time" },
        commitTime: { type: ["string", "null"] },
        slotBounded: { type: "boolean" },
      },
    },
  },
};

/** The whole document. */
export function asyncApiDocument(): Json {
  return {
    asyncapi: "3.0.0",
    info: {
      title: "Outbox suite events",
      version: CONTRACT_VERSION,
      description: "Every event of the order saga and its participants. Services write events " +
        "to their outbox in the transaction of the change they announce; the relay streams " +
        "them from Postgres' WAL to Kafka exactly once; consumers deduplicate by event id. " +
        "Generated by `deno task contracts` from the code; do not edit.",
    },
    defaultContentType: "application/json",
    servers: {
      local: {
        host: "127.0.0.1:59091",
        protocol: "kafka",
        description: "Three brokers, 127.0.0.1:59091-59093 (KAFKA_PORT_BASE).",
      },
    },
    channels: channels(),
    operations: operations(),
    components: {
      messages: {
        ...Object.fromEntries(EVENT_CONTRACTS.map((c) => [c.type, eventMessage(c)])),
        ...RELAY_MESSAGES,
      },
      schemas: {
        RecordHeaders: RECORD_HEADERS,
        DeadLetterHeaders: DEAD_LETTER_HEADERS,
        ...Object.fromEntries(
          EVENT_CONTRACTS.map((c) => [payloadSchemaName(c.type), payloadJsonSchema(c.schema)]),
        ),
      },
    },
  };
}
