/**
 * The dead-letter service's SQL (schema `deadletters`, reached through the
 * `deadletter_service` role's search_path): storing an arriving DLQ record
 * once, listing and reading dead letters, claiming them for a replay, and
 * resolving them (SPEC §9.2).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { Sql, Tx } from "../../db/mod.ts";
import {
  arriveAgain,
  type DeadLetterRecord,
  type DeadLetterStatus,
  firstArrival,
  type Source,
} from "./domain/dead_letter.ts";

type Db = Sql | Tx;

/** A stored dead letter. Ids are bigints, handed out as strings. */
export interface DeadLetter {
  id: string;
  status: DeadLetterStatus;
  retryable: boolean;
  source: Source;
  dlqTopic: string;
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
  failures: number;
  replays: number;
  firstFailureAt: Date | null;
  lastFailureAt: Date | null;
  receivedAt: Date;
  updatedAt: Date;
  lastReplayedAt: Date | null;
  resolvedAt: Date | null;
  resolvedBy: string | null;
  note: string | null;
}

interface Row {
  id: string;
  status: DeadLetterStatus;
  retryable: boolean;
  source: Source;
  dlq_topic: string;
  original_topic: string;
  original_partition: number | null;
  original_offset: string | null;
  key: string | null;
  value: Uint8Array | null;
  headers: Record<string, string>;
  event_id: string | null;
  event_type: string | null;
  consumer: string | null;
  consumer_group: string | null;
  reason: string;
  detail: string | null;
  error_class: string | null;
  error_message: string | null;
  attempts: number | null;
  traceparent: string | null;
  failures: number;
  replays: number;
  first_failure_at: Date | null;
  last_failure_at: Date | null;
  received_at: Date;
  updated_at: Date;
  last_replayed_at: Date | null;
  resolved_at: Date | null;
  resolved_by: string | null;
  note: string | null;
}

function toDeadLetter(r: Row): DeadLetter {
  return {
    id: String(r.id),
    status: r.status,
    retryable: r.retryable,
    source: r.source,
    dlqTopic: r.dlq_topic,
    originalTopic: r.original_topic,
    originalPartition: r.original_partition,
    originalOffset: r.original_offset === null ? null : String(r.original_offset),
    key: r.key,
    value: r.value === null ? null : new Uint8Array(r.value),
    headers: r.headers,
    eventId: r.event_id,
    eventType: r.event_type,
    consumer: r.consumer,
    consumerGroup: r.consumer_group,
    reason: r.reason,
    detail: r.detail,
    errorClass: r.error_class,
    errorMessage: r.error_message,
    attempts: r.attempts,
    traceparent: r.traceparent,
    failures: r.failures,
    replays: r.replays,
    firstFailureAt: r.first_failure_at,
    lastFailureAt: r.last_failure_at,
    receivedAt: r.received_at,
    updatedAt: r.updated_at,
    lastReplayedAt: r.last_replayed_at,
    resolvedAt: r.resolved_at,
    resolvedBy: r.resolved_by,
    note: r.note,
  };
}

/** What storing one DLQ record did. */
export type StoreOutcome =
  | { kind: "duplicate" }
  | { kind: "new"; letter: DeadLetter }
  | { kind: "again"; letter: DeadLetter; becamePermanent: boolean };

/**
 * Stores a DLQ record once (by its DLQ position), as a new dead letter or
 * as another failure of a known one (same fingerprint, or the row its
 * `dead-letter-id` names), in one transaction.
 */
export function storeArrival(
  sql: Sql,
  d: DeadLetterRecord,
  maxRetries: number,
): Promise<StoreOutcome> {
  return sql.begin(async (tx): Promise<StoreOutcome> => {
    const seen = await tx`
      select 1 from deliveries
      where dlq_topic = ${d.dlqTopic} and dlq_partition = ${d.dlqPartition}
        and dlq_offset = ${d.dlqOffset}`;
    if (seen.length > 0) return { kind: "duplicate" };

    let known: Row | undefined;
    if (d.replayOf !== null) {
      [known] = await tx<Row[]>`select * from dead_letters where id = ${d.replayOf} for update`;
    }
    if (!known) {
      [known] = await tx<Row[]>`
        select * from dead_letters where fingerprint = ${d.fingerprint} for update`;
    }
    if (
      known && d.originalOffset !== null && known.original_topic === d.originalTopic &&
      known.original_partition === d.originalPartition &&
      String(known.original_offset) === d.originalOffset
    ) {
      // The same failure of the same record, written twice (the dead-letter
      // producer is idempotent, not transactional: kit/consumer.ts).
      await delivered(tx, d, known.id);
      return { kind: "duplicate" };
    }
    let outcome: StoreOutcome;
    if (!known) {
      const [row] = await tx<Row[]>`
        insert into dead_letters (
          fingerprint, source, status, retryable, dlq_topic, original_topic, original_partition,
          original_offset, key, value, headers, event_id, event_type, consumer, consumer_group,
          reason, detail, error_class, error_message, attempts, traceparent, first_failure_at,
          last_failure_at)
        values (
          ${d.fingerprint}, ${d.source}, ${firstArrival(d.retryable)}, ${d.retryable},
          ${d.dlqTopic}, ${d.originalTopic}, ${d.originalPartition}, ${d.originalOffset}, ${d.key},
          ${d.value === null ? null : Buffer.from(d.value)}, ${
        tx.json(d.headers)
      }, ${d.eventId}, ${d.eventType}, ${d.consumer},
          ${d.consumerGroup}, ${d.reason}, ${d.detail}, ${d.errorClass}, ${d.errorMessage},
          ${d.attempts}, ${d.traceparent}, ${d.firstFailureAt}, ${d.lastFailureAt})
        on conflict (fingerprint) do nothing
        returning *`;
      // A concurrent instance stored the same dead letter first: roll back, and
      // the redelivery takes the "again" path.
      if (!row) throw new Error(`dead letter ${d.fingerprint} was stored concurrently; retrying`);
      outcome = { kind: "new", letter: toDeadLetter(row) };
      await history(tx, row.id, "received", `${d.reason}: ${d.detail ?? ""}`.trim());
    } else {
      const next = arriveAgain(
        known.status,
        known.retryable && d.retryable,
        known.replays,
        maxRetries,
      );
      const [row] = await tx<Row[]>`
        update dead_letters set
          status = ${next.status},
          retryable = ${next.status !== "NON_RETRYABLE" && known.retryable},
          failures = failures + 1,
          reason = ${d.reason}, detail = ${d.detail}, error_class = ${d.errorClass},
          error_message = ${d.errorMessage}, attempts = ${d.attempts},
          last_failure_at = ${d.lastFailureAt ?? new Date()},
          original_partition = ${d.originalPartition}, original_offset = ${d.originalOffset},
          resolved_at = null, resolved_by = null,
          updated_at = now()
        where id = ${known.id}
        returning *`;
      await history(tx, row.id, "failed-again", `${d.reason}: ${d.errorMessage ?? d.detail ?? ""}`);
      if (next.becamePermanent) {
        await history(tx, row.id, "non-retryable", `failed again after ${known.replays} replays`);
      }
      outcome = { kind: "again", letter: toDeadLetter(row), becamePermanent: next.becamePermanent };
    }
    await delivered(tx, d, outcome.letter.id);
    return outcome;
  });
}

async function delivered(tx: Tx, d: DeadLetterRecord, id: string): Promise<void> {
  await tx`
    insert into deliveries (dlq_topic, dlq_partition, dlq_offset, dead_letter_id)
    values (${d.dlqTopic}, ${d.dlqPartition}, ${d.dlqOffset}, ${id})`;
}

async function history(tx: Tx, id: string, action: string, detail: string): Promise<void> {
  await tx`insert into history (dead_letter_id, action, detail) values (${id}, ${action}, ${detail})`;
}

/** Filters of the admin list. */
export interface ListFilter {
  status?: DeadLetterStatus;
  topic?: string;
  reason?: string;
  consumer?: string;
  eventId?: string;
  /** Ids below this one (the next page). */
  before?: string;
  limit: number;
}

/** Newest first, filtered (each filter is a plain equality; unset ones match all). */
export async function listDeadLetters(db: Db, f: ListFilter): Promise<DeadLetter[]> {
  const rows = await db<Row[]>`
    select * from dead_letters
    where (${f.status ?? null}::text is null or status = ${f.status ?? null})
      and (${f.topic ?? null}::text is null or original_topic = ${f.topic ?? null})
      and (${f.reason ?? null}::text is null or reason = ${f.reason ?? null})
      and (${f.consumer ?? null}::text is null or consumer = ${f.consumer ?? null})
      and (${f.eventId ?? null}::text is null or event_id = ${f.eventId ?? null})
      and (${f.before ?? null}::bigint is null or id < ${f.before ?? null})
    order by id desc
    limit ${f.limit}`;
  return rows.map(toDeadLetter);
}

export async function findDeadLetter(db: Db, id: string): Promise<DeadLetter | null> {
  const rows = await db<Row[]>`select * from dead_letters where id = ${id}`;
  return rows.length === 1 ? toDeadLetter(rows[0]) : null;
}

/** A dead letter's history, oldest first. */
export async function historyOf(
  db: Db,
  id: string,
): Promise<{ at: Date; action: string; detail: string | null }[]> {
  return await db<{ at: Date; action: string; detail: string | null }[]>`
    select at, action, detail from history where dead_letter_id = ${id} order by id`;
}

/** Locks one dead letter for a replay (null if unknown). */
export async function lockDeadLetter(tx: Tx, id: string): Promise<DeadLetter | null> {
  const rows = await tx<Row[]>`select * from dead_letters where id = ${id} for update`;
  return rows.length === 1 ? toDeadLetter(rows[0]) : null;
}

/**
 * Locks up to `limit` PENDING (retryable) dead letters, oldest first;
 * another instance's replay skips them (skip locked).
 */
export async function lockPending(
  tx: Tx,
  opts: { topic?: string; limit: number },
): Promise<DeadLetter[]> {
  const rows = await tx<Row[]>`
    select * from dead_letters
    where status = 'PENDING' and retryable
      and (${opts.topic ?? null}::text is null or original_topic = ${opts.topic ?? null})
    order by id
    limit ${opts.limit}
    for update skip locked`;
  return rows.map(toDeadLetter);
}

/** Records that `id` was re-sent (`trigger`: who asked). */
export async function markReplayed(tx: Tx, id: string, trigger: string): Promise<DeadLetter> {
  const [row] = await tx<Row[]>`
    update dead_letters set status = 'REPLAYED', replays = replays + 1,
      last_replayed_at = now(), updated_at = now()
    where id = ${id}
    returning *`;
  await history(tx, id, "replayed", `replay ${row.replays} (${trigger})`);
  return toDeadLetter(row);
}

/** Marks it RESOLVED; null if unknown. Resolving a resolved one changes nothing. */
export function resolveDeadLetter(
  sql: Sql,
  id: string,
  by: string,
  note: string | null,
): Promise<DeadLetter | null> {
  return sql.begin(async (tx) => {
    const current = await lockDeadLetter(tx, id);
    if (!current || current.status === "RESOLVED") return current;
    const [row] = await tx<Row[]>`
      update dead_letters set status = 'RESOLVED', resolved_at = now(), resolved_by = ${by},
        note = ${note}, updated_at = now()
      where id = ${id}
      returning *`;
    await history(tx, id, "resolved", note === null ? `by ${by}` : `by ${by}: ${note}`);
    return toDeadLetter(row);
  });
}

/** Counts by status, and by original topic and status. */
export async function countDeadLetters(db: Db): Promise<
  { topic: string; status: DeadLetterStatus; n: number }[]
> {
  return await db<{ topic: string; status: DeadLetterStatus; n: number }[]>`
    select original_topic as topic, status, count(*)::int as n
    from dead_letters group by original_topic, status order by 1, 2`;
}
