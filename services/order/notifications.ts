/**
 * Pushes every status change of a user's orders to that user's WebSocket
 * connections (SPEC §4.1 step 4), and every user's changes to the admin
 * watchers (the console's live list).
 *
 * One hop (issue #16): the order's event row in the outbox also notifies the
 * Postgres channel `order_status` (trigger of migration 0016), which
 * Postgres delivers on commit — and only on commit — to every order
 * instance that LISTENs, so a client connected to any instance hears a
 * change made by any other, within milliseconds. Before, the change went
 * outbox → relay → Kafka → a consumer per instance: ~160 ms.
 *
 * A notification sent while an instance's listening connection is down is
 * lost; when the connection is back the notifier catches up from the outbox
 * itself (the order events written since the last change it heard, less a
 * margin for transactions that committed late), and remembers recent event
 * ids so that nothing is pushed twice. The Kafka path is gone: the outbox
 * is the record of what changed, and reading it back covers the same gap
 * without a consumer per instance polling every broker.
 *
 * @module
 */
import type { Sql } from "../../db/mod.ts";
import { listenChannel, type Listener } from "../../db/listener.ts";
import type { Logger } from "../../kit/log.ts";
import { UserSockets } from "../../kit/http/user_sockets.ts";
import { contextFromHeaders, markSpan, SpanKind } from "../../kit/tracing.ts";
import { OrderEvents } from "./events.ts";

/** The channel migration 0016's trigger notifies. */
export const ORDER_STATUS_CHANNEL = "order_status";

const STATUS: Record<string, string> = {
  [OrderEvents.Placed]: "PENDING",
  [OrderEvents.Completed]: "COMPLETED",
  [OrderEvents.Cancelled]: "CANCELLED",
};

/** A transaction may commit this long after it wrote its event (catch-up margin). */
const LATE_COMMIT_MS = 10_000;
/** Event ids remembered against pushing one twice (catch-up overlaps what was heard). */
const REMEMBERED = 10_000;

/** What the trigger sends (a small subset of the event: pg_notify's 8000-byte limit). */
interface StatusChange {
  eventId: string;
  type: string;
  orderId: string;
  userId: string;
  reason: string | null;
  mode: string | null;
  at: string;
  traceparent: string | null;
}

export class OrderNotifier {
  #sockets = new UserSockets();
  /** Admin connections that hear every user's changes (the console's live list). */
  #watchers = new Set<WebSocket>();
  #listener: Listener | null = null;
  #log: Logger;
  /** Recently pushed event ids, oldest first. */
  #seen = new Set<string>();
  /** The newest change heard (database time, epoch ms), where a catch-up starts. */
  #lastAt = 0;
  /** When this notifier first listened (database time): nothing older is its to push. */
  #startedAt = 0;
  pushed = 0;
  /** Changes pushed by a catch-up after a lost connection (not by a notification). */
  caughtUp = 0;

  constructor(log: Logger) {
    this.#log = log;
  }

  add(userId: string, ws: WebSocket): void {
    this.#sockets.add(userId, ws);
  }

  remove(userId: string, ws: WebSocket): void {
    this.#sockets.remove(userId, ws);
  }

  addWatcher(ws: WebSocket): void {
    this.#watchers.add(ws);
  }

  removeWatcher(ws: WebSocket): void {
    this.#watchers.delete(ws);
  }

  get connections(): number {
    return this.#watchers.size + this.#sockets.size;
  }

  /** LISTENs for order status changes from now on; `sql` serves the catch-ups. */
  async start({ sql, instanceId }: { sql: Sql; instanceId: string }): Promise<void> {
    this.#listener = await listenChannel("order_service", ORDER_STATUS_CHANNEL, {
      onNotify: (payload) => {
        try {
          this.#deliver(JSON.parse(payload) as StatusChange);
        } catch (err) {
          this.#log.warn("order status notification not understood", { error: String(err) });
        }
      },
      onListening: async (again) => {
        if (!again) {
          const [{ now }] = await sql`select clock_timestamp() as now`;
          this.#startedAt = now.getTime();
          this.#lastAt = Math.max(this.#lastAt, this.#startedAt);
          return;
        }
        const missed = await this.#missedSince(sql, this.#lastAt);
        for (const change of missed) if (this.#deliver(change)) this.caughtUp++;
        this.#log.info("order status notifications listening again", {
          caughtUp: missed.length,
        });
      },
      onError: (err) =>
        this.#log.warn("order status notifications: listening failed, retrying", {
          error: String(err),
        }),
    }, { applicationName: `order-notify-${instanceId}` });
  }

  /**
   * Order events written since `since` less the late-commit margin (but not
   * before this notifier started), oldest first.
   */
  async #missedSince(sql: Sql, since: number): Promise<StatusChange[]> {
    const rows = await sql`
      select event_id, event_type, payload, headers->>'traceparent' as traceparent, created_at
      from outbox
      where created_at > ${new Date(Math.max(this.#startedAt, since - LATE_COMMIT_MS))}
        and aggregate_type = 'order' and event_type = any(${Object.keys(STATUS)})
      order by created_at
      limit ${REMEMBERED}`;
    return rows.map((r) => ({
      eventId: r.event_id,
      type: r.event_type,
      orderId: r.payload.orderId,
      userId: r.payload.userId,
      reason: r.payload.reason ?? null,
      mode: r.payload.mode ?? null,
      at: r.created_at.toISOString(),
      traceparent: r.traceparent,
    }));
  }

  /** Pushes a change unless it was pushed already; true when it was new. */
  #deliver(c: StatusChange): boolean {
    if (this.#seen.has(c.eventId)) return false;
    this.#seen.add(c.eventId);
    if (this.#seen.size > REMEMBERED) this.#seen.delete(this.#seen.values().next().value!);
    const at = new Date(c.at);
    this.#lastAt = Math.max(this.#lastAt, at.getTime());
    const status = STATUS[c.type];
    if (!status || !c.userId) return true;
    const change = { type: c.type, orderId: c.orderId, status, reason: c.reason ?? null };
    this.#push(c.userId, change, c.traceparent);
    this.#pushWatchers({
      ...change,
      userId: c.userId,
      ...(c.mode ? { mode: c.mode } : {}),
      at: at.toISOString(),
    });
    return true;
  }

  #push(
    userId: string,
    message: { type: string; orderId: string; status: string },
    traceparent: string | null,
  ): void {
    const sent = this.#sockets.send(userId, JSON.stringify(message));
    this.pushed += sent;
    // The push ends the saga's trace; its parent is the span that wrote the order's event.
    if (sent > 0) {
      markSpan(`websocket push ${message.type}`, {
        "order.id": message.orderId,
        "order.status": message.status,
        "ws.connections": sent,
      }, {
        kind: SpanKind.PRODUCER,
        parent: contextFromHeaders(traceparent ? { traceparent } : {}),
      });
    }
  }

  #pushWatchers(message: unknown): void {
    if (this.#watchers.size === 0) return;
    const text = JSON.stringify(message);
    for (const ws of this.#watchers) {
      if (ws.readyState === WebSocket.OPEN) {
        ws.send(text);
        this.pushed++;
      }
    }
  }

  async stop(): Promise<void> {
    for (const ws of this.#watchers) ws.close(1001, "shutting down");
    this.#watchers.clear();
    this.#sockets.closeAll();
    await this.#listener?.close();
  }
}
