/**
 * Tells users over WebSocket what became of their coupon (SPEC §5: "the user
 * is told over WebSocket (success, or 'sold out')"), like the order
 * service's notifications. The grant worker announces stored (or refused)
 * grants on a Redis pub/sub channel that every instance subscribes to, so a
 * user is told whichever instance stored their grant; refusals decided on the
 * spot are pushed by the instance that answered the request.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Logger } from "../../../kit/log.ts";
import { UserSockets } from "../../../kit/http/user_sockets.ts";
import { NOTIFY_CHANNEL } from "./keys.ts";

/** A message on a user's socket. */
export interface CouponNotice {
  type: "CouponStored" | "CouponSoldOut" | "CouponAlreadyIssued";
  campaignId: string;
  userId: string;
  couponId?: string;
}

export class CouponNotifier {
  #sockets = new UserSockets();
  #sub: Redis | null = null;
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

  /** Subscribes `sub` (a connection of its own) to the grant announcements. */
  async start(sub: Redis): Promise<void> {
    this.#sub = sub;
    sub.on("message", (_channel: string, text: string) => {
      try {
        const n = JSON.parse(text) as CouponNotice;
        if (typeof n.userId === "string") this.push(n);
      } catch (err) {
        this.#log.warn("unreadable coupon notice", { error: err });
      }
    });
    await sub.subscribe(NOTIFY_CHANNEL);
  }

  /** Sends `n` to its user's sockets on this instance. */
  push(n: CouponNotice): void {
    this.pushed += this.#sockets.send(n.userId, JSON.stringify(n));
  }

  stop(): void {
    this.#sockets.closeAll();
    this.#sub?.disconnect();
  }
}
