/**
 * The open WebSockets of one service instance, by user: what the order and
 * coupon notifiers push status changes through (each user sees only their
 * own). A user may have several tabs open, so several sockets.
 *
 * @module
 */

export class UserSockets {
  #byUser = new Map<string, Set<WebSocket>>();

  add(userId: string, ws: WebSocket): void {
    const set = this.#byUser.get(userId) ?? new Set();
    set.add(ws);
    this.#byUser.set(userId, set);
  }

  remove(userId: string, ws: WebSocket): void {
    const set = this.#byUser.get(userId);
    set?.delete(ws);
    if (set?.size === 0) this.#byUser.delete(userId);
  }

  /** Sends `text` to the user's open sockets; returns how many got it. */
  send(userId: string, text: string): number {
    let sent = 0;
    for (const ws of this.#byUser.get(userId) ?? []) {
      if (ws.readyState === WebSocket.OPEN) {
        ws.send(text);
        sent++;
      }
    }
    return sent;
  }

  /** Sockets held, over all users. */
  get size(): number {
    let n = 0;
    for (const s of this.#byUser.values()) n += s.size;
    return n;
  }

  /** Closes every socket (shutdown). */
  closeAll(): void {
    for (const set of this.#byUser.values()) for (const ws of set) ws.close(1001, "shutting down");
    this.#byUser.clear();
  }
}
