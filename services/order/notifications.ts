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
import { ORDER_TOPIC, OrderEvents } from "./events.ts";

const STATUS: Record<string, string> = {
  [OrderEvents.Placed]: "PENDING",
  [OrderEvents.Completed]: "COMPLETED",
  [OrderEvents.Cancelled]: "CANCELLED",
};

export class OrderNotifier {
  #sockets = new Map<string, Set<WebSocket>>();
  #consumer: Consumer | null = null;
  #log: Logger;
  pushed = 0;

  constructor(log: Logger) {
    this.#log = log;
  }

  add(userId: string, ws: WebSocket): void {
    const set = this.#sockets.get(userId) ?? new Set();
    set.add(ws);
    this.#sockets.set(userId, set);
  }

  remove(userId: string, ws: WebSocket): void {
    const set = this.#sockets.get(userId);
    set?.delete(ws);
    if (set?.size === 0) this.#sockets.delete(userId);
  }

  get connections(): number {
    let n = 0;
    for (const s of this.#sockets.values()) n += s.size;
    return n;
  }

  /** Starts reading order-events from now on (a fresh group per instance). */
  async start(kafka: KafkaJs, instanceId: string): Promise<void> {
    this.#consumer = new Consumer(kafka, {
      groupId: `order-notify-${instanceId}-${crypto.randomUUID().slice(0, 8)}`,
      topics: [ORDER_TOPIC],
      fromBeginning: false,
      maxWaitTimeMs: 100,
    });
    await this.#consumer.run((m) => {
      const parsed = parseEnvelope(m);
      if (!parsed.ok) return Promise.resolve();
      const status = STATUS[parsed.event.type];
      const p = parsed.event.payload as { orderId?: string; userId?: string; reason?: string };
      if (!status || !p.userId) return Promise.resolve();
      this.#push(p.userId, {
        type: parsed.event.type,
        orderId: p.orderId,
        status,
        reason: p.reason ?? null,
      });
      return Promise.resolve();
    }, { commit: false });
  }

  #push(userId: string, message: unknown): void {
    const text = JSON.stringify(message);
    for (const ws of this.#sockets.get(userId) ?? []) {
      if (ws.readyState === WebSocket.OPEN) {
        ws.send(text);
        this.pushed++;
      }
    }
  }

  async stop(): Promise<void> {
    for (const set of this.#sockets.values()) for (const ws of set) ws.close(1001, "shutting down");
    this.#sockets.clear();
    await this.#consumer?.disconnect();
  }
}
