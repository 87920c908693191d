/**
 * The order service's SQL (schema `orders`, reached through the role's
 * search_path). Every function takes the caller's transaction or pool.
 *
 * @module
 */
import type { OutboxEvent, Sql, Tx } from "../../db/mod.ts";
import { outboxInsert } from "../../db/outbox.ts";
import type { ModeSettings } from "./domain/mode.ts";
import type { Saga, SagaMode, SagaStatus } from "./domain/saga.ts";
import type { OrderLine } from "./events.ts";

export interface OrderRow {
  id: string;
  userId: string;
  status: SagaStatus;
  mode: SagaMode;
  items: OrderLine[];
  couponId: string | null;
  points: number;
  saga: Saga;
  reason: string | null;
  idempotencyKey: string | null;
  deadlineAt: Date;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

export interface HistoryEntry {
  at: Date;
  note: string;
  detail: unknown;
}

type Db = Sql | Tx;

// deno-lint-ignore no-explicit-any
function toOrder(r: any): OrderRow {
  return {
    id: r.id,
    userId: r.user_id,
    status: r.status,
    mode: r.mode,
    items: r.items,
    couponId: r.coupon_id,
    points: r.points,
    saga: r.saga,
    reason: r.reason,
    idempotencyKey: r.idempotency_key,
    deadlineAt: r.deadline_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  };
}

/**
 * Stores a new order with its first history notes and outbox events (its
 * OrderPlaced and requests, in that order) in ONE statement — one round trip
 * (issue 16 item 4); returns the order as stored (its timestamps), so no
 * read is needed after.
 */
export async function insertOrder(
  tx: Tx,
  o: Omit<OrderRow, "createdAt" | "updatedAt" | "finishedAt" | "reason">,
  notes: string[],
  events: readonly OutboxEvent[],
): Promise<OrderRow> {
  const [r] = await tx`
    with o as (
      insert into orders (id, user_id, status, mode, items, coupon_id, points, saga, idempotency_key, deadline_at)
      values (${o.id}, ${o.userId}, ${o.status}, ${o.mode}, ${
    tx.json(o.items as never)
  }, ${o.couponId},
              ${o.points}, ${tx.json(o.saga as never)}, ${o.idempotencyKey}, ${o.deadlineAt})
      returning *
    ), h as (${historyInsert(tx, o.id, notes, null)}), e as (${outboxInsert(tx, events)})
    select * from o`;
  return toOrder(r);
}

/** The order, locked for the rest of the transaction (saga changes are serialized per order). */
export async function lockOrder(tx: Tx, id: string): Promise<OrderRow | null> {
  const [r] = await tx`select * from orders where id = ${id} for update`;
  return r ? toOrder(r) : null;
}

/**
 * Saves a change of the (locked) order's saga with its history notes and the
 * outbox events it causes (next requests, undos, the outcome), in ONE
 * statement — one round trip however many rows (issue 16 item 4).
 */
export async function saveSagaChange(
  tx: Tx,
  id: string,
  change: { saga: Saga; notes: string[]; detail?: unknown; events: readonly OutboxEvent[] },
): Promise<void> {
  const { saga } = change;
  const final = saga.status === "COMPLETED" || saga.status === "CANCELLED";
  const detail = change.detail === undefined ? null : change.detail;
  await tx`
    with s as (
      update orders
      set saga = ${tx.json(saga as never)}, status = ${saga.status}, reason = ${
    saga.reason ?? null
  },
          updated_at = clock_timestamp(),
          finished_at = case when ${final} and finished_at is null then clock_timestamp() else finished_at end
      where id = ${id}
    ), h as (${historyInsert(tx, id, change.notes, detail)}), e as (${
    outboxInsert(tx, change.events)
  })
    select 1`;
}

/** Appends `notes` to the order's history in their order: a fragment for one statement. */
function historyInsert(tx: Tx, orderId: string, notes: string[], detail: unknown) {
  return tx`
    insert into order_history (order_id, note, detail)
    select ${orderId}::uuid, n.note, ${detail === null ? null : tx.json(detail as never)}::jsonb
    from unnest(${notes}::text[]) with ordinality as n(note, i)
    order by n.i`;
}

export async function findOrder(db: Db, id: string): Promise<OrderRow | null> {
  const [r] = await db`select * from orders where id = ${id}`;
  return r ? toOrder(r) : null;
}

export async function findByIdempotencyKey(
  db: Db,
  userId: string,
  key: string,
): Promise<OrderRow | null> {
  const [r] = await db`select * from orders where user_id = ${userId} and idempotency_key = ${key}`;
  return r ? toOrder(r) : null;
}

export async function history(db: Db, orderId: string): Promise<HistoryEntry[]> {
  const rows =
    await db`select at, note, detail from order_history where order_id = ${orderId} order by id`;
  return rows.map((r) => ({ at: r.at, note: r.note, detail: r.detail }));
}

export async function listOrders(
  db: Db,
  userId: string,
  opts: { status?: string; limit: number; before?: Date },
): Promise<OrderRow[]> {
  const rows = await db`
    select * from orders
    where user_id = ${userId}
      and (${opts.status ?? null}::text is null or status = ${opts.status ?? null})
      and (${opts.before ?? null}::timestamptz is null or created_at < ${opts.before ?? null})
    order by created_at desc
    limit ${opts.limit}`;
  return rows.map(toOrder);
}

/** Orders by any user (admin views), newest first, narrowed by the filters given. */
export async function searchOrders(
  db: Db,
  opts: { userId?: string; status?: string; from?: Date; to?: Date; limit: number },
): Promise<OrderRow[]> {
  const rows = await db`
    select * from orders
    where (${opts.userId ?? null}::text is null or user_id = ${opts.userId ?? null})
      and (${opts.status ?? null}::text is null or status = ${opts.status ?? null})
      and (${opts.from ?? null}::timestamptz is null or created_at >= ${opts.from ?? null})
      and (${opts.to ?? null}::timestamptz is null or created_at < ${opts.to ?? null})
    order by created_at desc
    limit ${opts.limit}`;
  return rows.map(toOrder);
}

/** An event the order wrote to its outbox (its requests, undos and order events). */
export interface OrderEventRow {
  eventId: string;
  type: string;
  topic: string;
  key: string;
  at: Date;
  traceparent: string | null;
}

/** The order's own outbox events, oldest first (kept as the event store, README). */
export async function orderEvents(db: Db, orderId: string): Promise<OrderEventRow[]> {
  const rows = await db`
    select event_id, event_type, topic, key, created_at, headers->>'traceparent' as traceparent
    from outbox where aggregate_type = 'order' and aggregate_id = ${orderId}
    order by created_at, event_id`;
  return rows.map((r) => ({
    eventId: r.event_id,
    type: r.event_type,
    topic: r.topic,
    key: r.key,
    at: r.created_at,
    traceparent: r.traceparent,
  }));
}

/** Orders whose deadline passed while their saga still waits; locked, skipping ones another instance holds. */
export async function lockOverdue(tx: Tx, limit: number): Promise<OrderRow[]> {
  const rows = await tx`
    select * from orders
    where status = 'PENDING' and deadline_at < clock_timestamp()
    order by deadline_at
    limit ${limit}
    for update skip locked`;
  return rows.map(toOrder);
}

export async function readModeSettings(db: Db): Promise<ModeSettings> {
  const [r] = await db`select value from settings where key = 'mode'`;
  return r.value as ModeSettings;
}

export async function writeModeSettings(db: Db, s: ModeSettings): Promise<void> {
  await db`update settings set value = ${
    db.json(s as never)
  }, updated_at = now() where key = 'mode'`;
}
