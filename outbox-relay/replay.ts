/**
 * Replays stored events from the outbox tables (the event store, kept for
 * RELAY_RETENTION_DAYS) to Kafka — SPEC §11 "re-send from an event store",
 * §13 "after message loss find the missing events, re-send, verify".
 *
 *   deno task replay --from 2026-11-24T00:00:00Z [--to …] [--schema orders]
 *                    [--aggregate order:<id>] [--event <uuid>] [--dry-run]
 *
 * Records are the relay's own (same key, envelope and event id), marked with a
 * `replayed-at` header, sent in transactions of up to 500 under a fresh
 * transactional id, in created_at order. Consumers deduplicate by event id
 * (their inbox), so replaying an event that did arrive changes nothing.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { connectService, SERVICE_SCHEMAS, type Sql } from "../db/mod.ts";
import { Admin, createKafka, type TopicBatch, TransactionalProducer } from "../kafka/mod.ts";
import { infraConfig } from "../kit/env.ts";
import { toRecord } from "./messages.ts";
import type { OutboxRow } from "./wal_reader.ts";

export interface ReplayFilter {
  from?: Date;
  to?: Date;
  schemas: string[];
  aggregate?: { type: string; id: string };
  eventId?: string;
}

export interface ReplayResult {
  selected: number;
  published: number;
  skipped: { eventId: string; reason: string }[];
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/;

/** The stored events matching `filter`, oldest first. */
export async function selectEvents(sql: Sql, filter: ReplayFilter): Promise<OutboxRow[]> {
  const rows: OutboxRow[] = [];
  for (const schema of filter.schemas) {
    if (!SCHEMA_NAME.test(schema)) throw new Error(`not a schema name: ${JSON.stringify(schema)}`);
    const found = await sql<Record<string, unknown>[]>`
      select event_id, aggregate_type, aggregate_id, event_type, topic, key, payload, headers, created_at
      from ${sql(schema)}.outbox
      where (${filter.from ?? null}::timestamptz is null or created_at >= ${filter.from ?? null})
        and (${filter.to ?? null}::timestamptz is null or created_at < ${filter.to ?? null})
        and (${filter.aggregate?.type ?? null}::text is null or aggregate_type = ${
      filter.aggregate?.type ?? null
    })
        and (${filter.aggregate?.id ?? null}::text is null or aggregate_id = ${
      filter.aggregate?.id ?? null
    })
        and (${filter.eventId ?? null}::uuid is null or event_id = ${filter.eventId ?? null}::uuid)
      order by created_at, event_id`;
    for (const r of found) {
      rows.push({
        schema,
        eventId: String(r.event_id),
        aggregateType: String(r.aggregate_type),
        aggregateId: String(r.aggregate_id),
        eventType: String(r.event_type),
        topic: String(r.topic),
        key: String(r.key),
        payload: r.payload,
        headers: r.headers,
        createdAt: r.created_at as Date,
      });
    }
  }
  return rows.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
}

/** Publishes `rows` again; poison rows are reported, not sent. */
export async function replay(
  rows: OutboxRow[],
  brokers: string[],
  batchSize = 500,
): Promise<ReplayResult> {
  const kafka = createKafka({ brokers, clientId: "outbox-replay" });
  const admin = new Admin(kafka);
  await admin.connect();
  const knownTopics = new Set(await admin.listTopics());
  await admin.disconnect();
  const producer = new TransactionalProducer(kafka, {
    transactionalId: `outbox-replay-${crypto.randomUUID()}`,
  });
  const result: ReplayResult = { selected: rows.length, published: 0, skipped: [] };
  try {
    for (let i = 0; i < rows.length; i += batchSize) {
      const byTopic = new Map<string, TopicBatch>();
      for (const row of rows.slice(i, i + batchSize)) {
        const r = toRecord(row, null, { knownTopics });
        if (!r.ok) {
          result.skipped.push({ eventId: row.eventId, reason: r.reason });
          continue;
        }
        const b = byTopic.get(r.topic) ?? { topic: r.topic, messages: [] };
        b.messages.push(r.message);
        byTopic.set(r.topic, b);
      }
      const batches = [...byTopic.values()];
      if (batches.length === 0) continue;
      await producer.commit(batches);
      result.published += batches.reduce((n, b) => n + b.messages.length, 0);
    }
  } finally {
    await producer.disconnect();
  }
  return result;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      from: { type: "string" },
      to: { type: "string" },
      schema: { type: "string", multiple: true },
      aggregate: { type: "string" },
      event: { type: "string" },
      "dry-run": { type: "boolean", default: false },
    },
  });
  const date = (v: string | undefined, name: string) => {
    if (v === undefined) return undefined;
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) throw new Error(`--${name}: not a date: ${v}`);
    return d;
  };
  const [aggType, ...aggId] = values.aggregate?.split(":") ?? [];
  const filter: ReplayFilter = {
    from: date(values.from, "from"),
    to: date(values.to, "to"),
    schemas: values.schema?.length ? values.schema : [...SERVICE_SCHEMAS],
    aggregate: values.aggregate ? { type: aggType, id: aggId.join(":") } : undefined,
    eventId: values.event,
  };
  if (!filter.from && !filter.aggregate && !filter.eventId) {
    console.error("replay: give --from (and optionally --to), --aggregate TYPE:ID or --event UUID");
    Deno.exit(2);
  }
  const sql = connectService("outbox_relay", { max: 1 });
  try {
    const rows = await selectEvents(sql, filter);
    console.log(`replay: ${rows.length} stored event(s) match`);
    if (values["dry-run"]) {
      for (const r of rows) {
        console.log(`  ${r.createdAt.toISOString()} ${r.schema} ${r.eventType} ${r.eventId}`);
      }
    } else {
      const res = await replay(rows, infraConfig().kafkaBrokers);
      console.log(JSON.stringify(res));
    }
  } finally {
    await sql.end();
  }
  Deno.exit(0);
}
