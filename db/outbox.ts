/**
 * Publishing an event: the only way a service does it is to write it to its
 * own schema's `outbox` table in the same transaction as the state change it
 * announces (SPEC design card: state and events in ONE transaction). The
 * relay (outbox-relay/) reads committed rows from the WAL and sends them to
 * Kafka; a rolled-back transaction leaves no event behind.
 *
 * @module
 */
import { context, propagation } from "@opentelemetry/api";
import type { JSONValue, PendingQuery, Row } from "postgres";
import { contractProblem } from "../contracts/event_contract.ts";
import { EVENT_TOPICS } from "../kafka/topics.ts";
import { assertTransaction, type Tx } from "./transaction.ts";

/** An event as a service hands it over. */
export interface OutboxEvent {
  /** What kind of thing changed: `order`, `coupon`, `stock`, `point`. */
  aggregateType: string;
  /** Which one. */
  aggregateId: string;
  /** `OrderCreated`, `StockDeductionRequested`, … */
  eventType: string;
  /** One of the event topics of SPEC §3.2 (kafka/topics.ts). */
  topic: string;
  /** The Kafka record key: the topic's partition key (user id, coupon id, …). */
  key: string;
  /**
   * The event's body: a plain JSON object (no Date, Map, bigint, NaN, …); a
   * property whose value is undefined is left out, as JSON.stringify does.
   */
  payload: object;
  /** Extra string headers for the Kafka record; the trace context is added here. */
  headers?: Readonly<Record<string, string>>;
}

/** An outbox row, column for column, as stored (and as the relay reads it). */
export interface StoredEvent {
  event_id: string;
  aggregate_type: string;
  aggregate_id: string;
  event_type: string;
  topic: string;
  key: string;
  payload: Record<string, unknown>;
  /** String → string; holds `traceparent` when the writer had an active trace. */
  headers: Record<string, string>;
  created_at: Date;
}

/** Raised for an event that cannot be published; nothing is written. */
export class InvalidEventError extends Error {
  override name = "InvalidEventError";
}

const TOPICS: ReadonlySet<string> = new Set(EVENT_TOPICS.map((t) => t.name));

/** Why `value` is not plain JSON, or undefined when it is. */
function jsonProblem(value: unknown, path: string, seen: Set<object>): string | undefined {
  if (value === null || typeof value === "string" || typeof value === "boolean") return;
  if (typeof value === "number") {
    return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON cannot hold`;
  }
  if (value === undefined) return `${path} is undefined, which JSON cannot hold`;
  if (typeof value !== "object") return `${path} is a ${typeof value}, which JSON cannot hold`;
  if (seen.has(value)) return `${path} refers back to itself`;
  const proto = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) {
    return `${path} is a ${proto?.constructor?.name ?? "non-plain object"}; ` +
      "convert it to plain JSON (e.g. a Date to an ISO string)";
  }
  seen.add(value);
  const entries = Array.isArray(value)
    ? value.map((v, i) => [`${path}[${i}]`, v] as const)
    // An undefined property is left out, as JSON.stringify does (optional fields).
    : Object.entries(value).filter(([, v]) => v !== undefined)
      .map(([k, v]) => [`${path}.${k}`, v] as const);
  for (const [p, v] of entries) {
    const problem = jsonProblem(v, p, seen);
    if (problem) return problem;
  }
  seen.delete(value);
}

/** Throws InvalidEventError naming the first thing wrong with `event`. */
export function validateEvent(event: OutboxEvent): void {
  const fail = (msg: string): never => {
    throw new InvalidEventError(`invalid outbox event: ${msg}`);
  };
  if (typeof event !== "object" || event === null) fail("not an object");
  for (const field of ["aggregateType", "aggregateId", "eventType", "topic", "key"] as const) {
    const v: unknown = event[field];
    if (typeof v !== "string" || v.trim() === "") fail(`${field} must be a non-empty string`);
  }
  if (!TOPICS.has(event.topic)) {
    fail(`topic "${event.topic}" is not one of ${[...TOPICS].join(", ")}`);
  }
  const { payload } = event;
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    fail("payload must be a JSON object");
  }
  const problem = jsonProblem(payload, "payload", new Set());
  if (problem) fail(problem);
  // An event type of the suite must keep its contract (issue 18): schema,
  // topic and key, as its consumers read it.
  const broken = contractProblem(event);
  if (broken) fail(broken);
  if (event.headers !== undefined) {
    if (typeof event.headers !== "object" || event.headers === null) {
      fail("headers must be an object of strings");
    }
    for (const [k, v] of Object.entries(event.headers)) {
      if (k === "") fail("a header name is empty");
      if (typeof v !== "string") fail(`header ${k} must be a string`);
    }
  }
}

/**
 * Writes `event` to the outbox of the transaction's schema (the service
 * role's search_path) and returns its event id. The current trace context is
 * recorded in the headers (`traceparent`, when a trace is active), so the
 * relay can continue the trace on the Kafka record.
 *
 * @example
 * ```ts ignore
 * const sql = connectService("order_service");
 * await sql.begin(async (tx) => {
 *   await tx`insert into orders (id, user_id, status) values (${id}, ${userId}, 'PENDING')`;
 *   await appendOutbox(tx, {
 *     aggregateType: "order",
 *     aggregateId: id,
 *     eventType: "OrderCreated",
 *     topic: "order-events",
 *     key: userId, // SPEC §3.2: order-events are keyed by user id
 *     payload: { orderId: id, userId },
 *   });
 * });
 * ```
 */
export async function appendOutbox(tx: Tx, event: OutboxEvent): Promise<string> {
  assertTransaction(tx, "appendOutbox()");
  const { eventId, headers } = outboxRow(event);
  await tx`
    insert into outbox
      (event_id, aggregate_type, aggregate_id, event_type, topic, key, payload, headers)
    values
      (${eventId}, ${event.aggregateType}, ${event.aggregateId}, ${event.eventType},
       ${event.topic}, ${event.key}, ${tx.json(event.payload as JSONValue)},
       ${tx.json(headers)})`;
  return eventId;
}

/** An event made ready for its outbox row: validated, with its id and the trace context. */
interface OutboxRow {
  eventId: string;
  aggregateType: string;
  aggregateId: string;
  eventType: string;
  topic: string;
  key: string;
  payload: object;
  headers: Record<string, string>;
}

/** Validates `event` (InvalidEventError) and gives it an id and the current trace context. */
function outboxRow(event: OutboxEvent): OutboxRow {
  validateEvent(event);
  const headers: Record<string, string> = { ...event.headers };
  propagation.inject(context.active(), headers);
  return {
    eventId: crypto.randomUUID(),
    aggregateType: event.aggregateType,
    aggregateId: event.aggregateId,
    eventType: event.eventType,
    topic: event.topic,
    key: event.key,
    payload: event.payload,
    headers,
  };
}

/**
 * The insert of `events` into the outbox, in their order, as a fragment of
 * one statement — a data-modifying CTE beside the state change they announce
 * (`with s as (update …), e as (${outboxInsert(tx, events)}) select …`), so a
 * change and its events cost one round trip and one statement (issue 16).
 * Every event is validated (InvalidEventError) and stamped like
 * {@link appendOutbox}'s before the fragment exists, so a bad one throws with
 * nothing sent; no events insert nothing. Each row's `created_at` is its own
 * `clock_timestamp()`, rising in the events' order.
 */
export function outboxInsert(tx: Tx, events: readonly OutboxEvent[]) {
  assertTransaction(tx, "outboxInsert()");
  const rows = events.map(outboxRow);
  return tx`
    insert into outbox
      (event_id, aggregate_type, aggregate_id, event_type, topic, key, payload, headers)
    select (e->>'eventId')::uuid, e->>'aggregateType', e->>'aggregateId', e->>'eventType',
           e->>'topic', e->>'key', e->'payload', e->'headers'
    from jsonb_array_elements(${tx.json(rows as unknown as JSONValue)}::jsonb)
      with ordinality as r(e, i)
    order by r.i`;
}

/**
 * `change` — an insert, update or delete not yet awaited (a postgres.js
 * fragment) — and the outbox insert of `events`, run as ONE statement: a
 * state change and the events announcing it in one round trip (issue 16).
 *
 * @example
 * ```ts ignore
 * await withOutbox(tx, tx`update deductions set state = 'DEDUCTED' where …`, [reply]);
 * ```
 */
export async function withOutbox(
  tx: Tx,
  change: PendingQuery<Row[]>,
  events: readonly OutboxEvent[],
): Promise<void> {
  await tx`with c as (${change}), e as (${outboxInsert(tx, events)}) select 1`;
}
