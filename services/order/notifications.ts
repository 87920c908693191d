/**
 * Pushes every status change of a user's orders to that user's WebSocket
 * connections (SPEC §4.1 step 4). The changes come from `order-events`, read
 * by each instance in a consumer group of its own, so a client is told even
 * when another instance of the order service finished the saga (issue #5).
 *
 * @module
 */
import { Consumer, type KafkaJs } from "../../kafka/mod.ts";
import { parseEnvelope } from "../../kit/envelope.ts";
import type { Logger } from "../../kit/log.ts";
import { UserSockets } from "../../kit/http/user_sockets.ts";
import { contextFromHeaders, markSpan, SpanKind } from "../../kit/tracing.ts";
import { ORDER_TOPIC, OrderEvents } from "./events.ts";

const STATUS: Record<string, string> = {
  [OrderEvents.Placed]: "PENDING",
  [OrderEvents.Completed]: "COMPLETED",
  [OrderEvents.Cancelled]: "CANCELLED",
};

export class OrderNotifier {
  #sockets = new UserSockets();
  /** Admin connections that hear every user's changes (the console's live list). */
  #watchers = new Set<WebSocket>();
  #consumer: Consumer | null = null;
  #log: Logger;
  pushed = 0;

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

  /** Starts reading order-events from now on (a fresh group per instance). */
  async start(kafka: KafkaJs, instanceId: string): Promise<void> {
    this.#consumer = new Consumer(kafka, {
      groupId: `order-notify-${instanceId}-${crypto.randomUUID().slice(0, 8)}`,
      topics: [ORDER_TOPIC],
      fromBeginning: false,
      // A waiting fetch returns as soon as a record is committed; the wait only
      // bounds empty polls (each one a request to every broker).
      maxWaitTimeMs: 1_000,
    });
    await this.#consumer.run((m) => {
      const parsed = parseEnvelope(m);
      if (!parsed.ok) return Promise.resolve();
      const status = STATUS[parsed.event.type];
      const p = parsed.event.payload as {
        orderId?: string;
        userId?: string;
        reason?: string;
        mode?: string;
      };
      if (!status || !p.userId) return Promise.resolve();
      const change = {
        type: parsed.event.type,
        orderId: p.orderId,
        status,
        reason: p.reason ?? null,
      };
      this.#push(p.userId, change, m.headers);
      this.#pushWatchers({
        ...change,
        userId: p.userId,
        ...(p.mode ? { mode: p.mode } : {}),
        at: parsed.event.occurredAt,
      });
      return Promise.resolve();
    }, { commit: false });
  }

  #push(userId: string, message: unknown, headers: Record<string, string>): void {
    const sent = this.#sockets.send(userId, JSON.stringify(message));
    this.pushed += sent;
    // The push ends the saga's trace (its parent: the relay's publish of the order event).
    if (sent > 0) {
      const m = message as { type?: string; orderId?: string; status?: string };
      markSpan(`websocket push ${m.type ?? ""}`.trim(), {
        "order.id": m.orderId ?? "",
        "order.status": m.status ?? "",
        "ws.connections": sent,
      }, { kind: SpanKind.PRODUCER, parent: contextFromHeaders(headers) });
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
    await this.#consumer?.disconnect();
  }
}
