/**
 * Retention for the outbox and inbox tables, so they do not grow forever.
 * Run as the superuser; the relay process schedules it.
 *
 * Outbox rows go once they are older than the retention AND not newer than
 * what the relay has published (`relay.progress.published_until`): an event
 * the relay has not sent is never deleted, however old. published_until is
 * the created_at of the newest event sent; transactions commit out of
 * created_at order, so this is safe as long as the retention is longer than
 * the longest transaction (days against seconds).
 *
 * Inbox rows go once older than the retention: a message redelivered after
 * that would be handled again, so keep the inbox retention longer than a
 * message can come back: the longest topic retention (a rewound consumer)
 * plus the replay window (kit/inbox_retention.ts states the rule and each
 * service schedules its own inbox's cleanup).
 *
 * @module
 */
import type postgres from "postgres";
import { SERVICE_SCHEMAS } from "./roles.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

export interface RetentionOptions {
  /** Rows older than this may go (default 7 days). */
  retentionMs?: number;
  /** Rows deleted per statement, so one run never holds a long lock (default 10,000). */
  batchSize?: number;
}

export interface OutboxRetentionOptions extends RetentionOptions {
  /**
   * Whose published_until counts. Default: every row of relay.progress, the
   * oldest wins, and any slot that has published nothing stops all deletion.
   */
  slotName?: string;
}

export interface InboxRetentionOptions extends RetentionOptions {
  /** The schemas whose inbox is cleaned (default every service schema). */
  schemas?: readonly string[];
}

/** Rows deleted, per service schema. */
export type DeletedCounts = Record<string, number>;

function checkOptions(opts: RetentionOptions): { retentionMs: number; batchSize: number } {
  const retentionMs = opts.retentionMs ?? 7 * DAY_MS;
  const batchSize = opts.batchSize ?? 10_000;
  if (!Number.isFinite(retentionMs) || retentionMs < 0) {
    throw new RangeError(`retentionMs must be a non-negative number, got ${retentionMs}`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  return { retentionMs, batchSize };
}

/** The retention's cutoff by the database's clock, as exact text (microseconds kept). */
async function cutoffOf(sql: postgres.Sql, retentionMs: number): Promise<string> {
  const [{ cutoff }] = await sql<{ cutoff: string }[]>`
    select (now() - ${retentionMs} * interval '1 millisecond')::text as cutoff`;
  return cutoff;
}

/** The newest created_at every relevant slot has published, or null when unknown. */
async function publishedUntil(sql: postgres.Sql, slotName?: string): Promise<string | null> {
  const [{ until }] = slotName === undefined
    ? await sql<{ until: string | null }[]>`
      select case when count(*) = 0 or bool_or(published_until is null) then null
                  else min(published_until)::text end as until
      from relay.progress`
    : await sql<{ until: string | null }[]>`
      select (select published_until::text from relay.progress where slot_name = ${slotName})
        as until`;
  return until;
}

/** Deletes old outbox rows the relay has published; returns the count per schema. */
export async function cleanupOutbox(
  sql: postgres.Sql,
  opts: OutboxRetentionOptions = {},
): Promise<DeletedCounts> {
  const { retentionMs, batchSize } = checkOptions(opts);
  const counts: DeletedCounts = Object.fromEntries(SERVICE_SCHEMAS.map((s) => [s, 0]));
  const until = await publishedUntil(sql, opts.slotName);
  if (until === null) return counts; // nothing known to be published: keep everything
  const cutoff = await cutoffOf(sql, retentionMs);
  for (const schema of SERVICE_SCHEMAS) {
    counts[schema] = await deleteInBatches(
      sql,
      `${schema}.outbox`,
      sql`created_at < ${cutoff}::timestamptz and created_at <= ${until}::timestamptz`,
      batchSize,
    );
  }
  return counts;
}

/** Deletes the rows of `table` that match `where`, `batchSize` at a time; returns how many. */
async function deleteInBatches(
  sql: postgres.Sql,
  table: string,
  where: postgres.PendingQuery<postgres.Row[]>,
  batchSize: number,
): Promise<number> {
  let deleted = 0;
  for (;;) {
    const { count } = await sql`
      delete from ${sql(table)} where ctid = any(array(
        select ctid from ${sql(table)} where ${where} limit ${batchSize}))`;
    deleted += count;
    if (count < batchSize) return deleted;
  }
}

/**
 * Deletes inbox rows older than the retention; returns the count per schema.
 * A service's own role may clean its own schema (`schemas: ["inventory"]`).
 */
export async function cleanupInbox(
  sql: postgres.Sql,
  opts: InboxRetentionOptions = {},
): Promise<DeletedCounts> {
  const { retentionMs, batchSize } = checkOptions(opts);
  const schemas = opts.schemas ?? SERVICE_SCHEMAS;
  const counts: DeletedCounts = {};
  const cutoff = await cutoffOf(sql, retentionMs);
  for (const schema of schemas) {
    counts[schema] = await deleteInBatches(
      sql,
      `${schema}.inbox`,
      sql`processed_at < ${cutoff}::timestamptz`,
      batchSize,
    );
  }
  return counts;
}
