/**
 * Runs order sagas on the database: every change of a saga — placing the
 * order, a participant's reply, a deadline — is one transaction that locks
 * the order row, advances the pure state machine (domain/saga.ts), saves it,
 * appends the history and writes the resulting commands and order events to
 * the outbox. So a crash at any point leaves either all of it or none, and
 * any instance can carry on any saga.
 *
 * The writes of one change are ONE statement (store.ts: data-modifying
 * CTEs): the order row, its history notes and its outbox events in the
 * order they are made, so a change costs one round trip and one statement
 * whatever it writes (issue 16 item 4); a reply costs one more, the lock.
 *
 * @module
 */
import { afterCommit } from "../../db/after_commit.ts";
import type { OutboxEvent, Tx } from "../../db/mod.ts";
import { markSpan } from "../../kit/tracing.ts";
import { COUPON_TOPIC, CouponEvents } from "../coupon/events.ts";
import { COMPENSATION_TOPIC, STOCK_TOPIC, StockEvents } from "../inventory/events.ts";
import { POINT_TOPIC, PointEvents } from "../point/events.ts";
import {
  advance,
  type Command,
  planSteps,
  type SagaInput,
  type SagaMode,
  start,
} from "./domain/saga.ts";
import { ORDER_TOPIC, OrderEvents, type OrderLine } from "./events.ts";
import { orderCreated, orderFinished } from "./metrics.ts";
import { insertOrder, lockOrder, type OrderRow, saveSagaChange } from "./store.ts";

export interface PlaceOrder {
  orderId: string;
  userId: string;
  items: OrderLine[];
  couponId: string | null;
  points: number;
  idempotencyKey: string | null;
  mode: SagaMode;
  /** How long the saga may wait for replies before it gives up (deadline). */
  deadlineMs: number;
}

/**
 * Stores the order as PENDING and publishes OrderPlaced and the first
 * requests; returns it. `tx` comes from `inTransaction()`: the saga's
 * metrics are counted after its commit (db/after_commit.ts).
 */
export async function placeOrder(tx: Tx, p: PlaceOrder): Promise<OrderRow> {
  const t = start(p.orderId, p.mode, planSteps(p.items.length, p.couponId !== null, p.points > 0));
  const order = {
    id: p.orderId,
    userId: p.userId,
    status: t.saga.status,
    mode: p.mode,
    items: p.items,
    couponId: p.couponId,
    points: p.points,
    saga: t.saga,
    idempotencyKey: p.idempotencyKey,
    deadlineAt: new Date(Date.now() + p.deadlineMs),
  };
  const placed: OutboxEvent = {
    aggregateType: "order",
    aggregateId: p.orderId,
    eventType: OrderEvents.Placed,
    topic: ORDER_TOPIC,
    key: p.userId,
    payload: {
      orderId: p.orderId,
      userId: p.userId,
      items: p.items,
      couponId: p.couponId,
      points: p.points,
      mode: p.mode,
    },
  };
  const stored = await insertOrder(tx, order, ["order placed", ...t.notes], [
    placed,
    ...commandEvents(order, t.commands),
  ]);
  afterCommit(tx, () => orderCreated(p.mode));
  return stored;
}

/**
 * Feeds one input to an order's saga. Returns false when the order is
 * unknown or the input changed nothing (a repeated or stale reply). `tx`
 * comes from `inTransaction()`, as for placeOrder().
 */
export async function applyToSaga(
  tx: Tx,
  orderId: string,
  input: SagaInput,
  detail?: unknown,
): Promise<boolean> {
  const order = await lockOrder(tx, orderId);
  if (!order) return false;
  const t = advance(order.saga, input);
  if (t.notes.length === 0) return false;
  // Every event is made before anything is written: a mistake in the making
  // throws here, with nothing of this change sent.
  const events = commandEvents(order, t.commands);
  if (t.saga.status !== order.status) {
    if (t.saga.status === "COMPLETED" || t.saga.status === "CANCELLED") {
      const status = t.saga.status;
      afterCommit(tx, () => orderFinished(order.mode, status, order.createdAt));
      markSpan(`order ${t.saga.status}`, {
        "order.id": orderId,
        "order.mode": order.mode,
        ...(t.saga.reason ? { "order.reason": t.saga.reason } : {}),
      });
    } else {
      markSpan(`order ${t.saga.status}`, { "order.id": orderId, "order.mode": order.mode });
    }
    if (t.saga.status === "COMPLETED") {
      events.push({
        aggregateType: "order",
        aggregateId: orderId,
        eventType: OrderEvents.Completed,
        topic: ORDER_TOPIC,
        key: order.userId,
        payload: { orderId, userId: order.userId },
      });
    } else if (t.saga.status === "CANCELLED") {
      events.push({
        aggregateType: "order",
        aggregateId: orderId,
        eventType: OrderEvents.Cancelled,
        topic: ORDER_TOPIC,
        key: order.userId,
        payload: { orderId, userId: order.userId, reason: t.saga.reason ?? "cancelled" },
      });
    }
  }
  await saveSagaChange(tx, orderId, { saga: t.saga, notes: t.notes, detail, events });
  return true;
}

/** The participants' events (their contracts) for saga commands, in the commands' order. */
function commandEvents(
  order: Pick<OrderRow, "id" | "userId" | "items" | "couponId" | "points">,
  commands: Command[],
): OutboxEvent[] {
  const events: OutboxEvent[] = [];
  for (const c of commands) {
    const base = { aggregateType: "order", aggregateId: order.id };
    if (c.stepId.startsWith("stock:")) {
      const line = Number(c.stepId.slice("stock:".length));
      const item = order.items[line - 1];
      if (c.type === "request") {
        events.push({
          ...base,
          eventType: StockEvents.DeductionRequested,
          topic: STOCK_TOPIC,
          key: item.productId,
          payload: {
            orderId: order.id,
            userId: order.userId,
            line,
            productId: item.productId,
            quantity: item.quantity,
          },
        });
      } else {
        events.push({
          ...base,
          eventType: StockEvents.RestoreRequested,
          topic: COMPENSATION_TOPIC,
          key: order.id,
          payload: { orderId: order.id, line, productId: item.productId, quantity: item.quantity },
        });
      }
    } else if (c.stepId === "coupon") {
      const couponId = order.couponId!;
      events.push(
        c.type === "request"
          ? {
            ...base,
            eventType: CouponEvents.UsageRequested,
            topic: COUPON_TOPIC,
            key: couponId,
            payload: { orderId: order.id, userId: order.userId, couponId },
          }
          : {
            ...base,
            eventType: CouponEvents.RestoreRequested,
            topic: COMPENSATION_TOPIC,
            key: order.id,
            payload: { orderId: order.id, couponId },
          },
      );
    } else if (c.stepId === "point") {
      events.push(
        c.type === "request"
          ? {
            ...base,
            eventType: PointEvents.DeductionRequested,
            topic: POINT_TOPIC,
            key: order.userId,
            payload: { orderId: order.id, userId: order.userId, amount: order.points },
          }
          : {
            ...base,
            eventType: PointEvents.RestoreRequested,
            topic: COMPENSATION_TOPIC,
            key: order.id,
            payload: { orderId: order.id, userId: order.userId, amount: order.points },
          },
      );
    }
  }
  return events;
}
