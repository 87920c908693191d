/**
 * WebSocket routes for authenticated users: {@link authenticatedSocket}
 * upgrades a request that {@link authenticate}`({ socket: true })` let
 * through, answers the `bearer` subprotocol the client offered (never the
 * token beside it, socket_protocol.ts), and closes the socket with
 * {@link TOKEN_EXPIRED_CLOSE} when the token it was opened with expires —
 * a socket must not outlive the permission it was opened with.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { upgradeWebSocket } from "hono/deno";
import type { WSEvents } from "hono/ws";
import type { AppEnv } from "./app.ts";
import { BEARER_PROTOCOL, offeredProtocols } from "./socket_protocol.ts";

/** The close code (application range, after HTTP's 401) and reason when a socket's token expires. */
export const TOKEN_EXPIRED_CLOSE = { code: 4401, reason: "token expired" } as const;

/** setTimeout's longest delay (~24.8 days); a later expiry is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `close` at `expiresAt` (ms since the epoch); returns the cancel.
 *
 * @example
 * ```ts
 * import { closeAtExpiry } from "./socket.ts";
 *
 * let closed = false;
 * const cancel = closeAtExpiry(Date.now() + 60_000, () => (closed = true));
 * cancel();
 * console.assert(!closed);
 * ```
 */
export function closeAtExpiry(expiresAt: number, close: () => void): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const wait = () => {
    const left = expiresAt - Date.now();
    if (left <= 0) return close();
    timer = setTimeout(wait, Math.min(left, MAX_TIMER_MS));
  };
  wait();
  return () => clearTimeout(timer);
}

/**
 * Middleware after `authenticate({ socket: true })`: upgrades to a WebSocket
 * with the events `createEvents` makes for the request (it may read
 * `currentUser(c)`), closed when the caller's token expires. A request that
 * is not an upgrade goes on to the next handler (a 404 when none).
 *
 * @example
 * ```ts ignore
 * app.get("/orders/ws", authenticate({ socket: true }), authenticatedSocket((c) => {
 *   const user = currentUser(c);
 *   return { onOpen: (_e, ws) => sockets.add(user.id, ws.raw as WebSocket) };
 * }));
 * ```
 */
export function authenticatedSocket(
  createEvents: (c: Context<AppEnv>) => WSEvents<WebSocket>,
): MiddlewareHandler<AppEnv> {
  return async function authenticatedSocket(c, next) {
    if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") return await next();
    const expiresAt = c.get("tokenExpiresAt");
    if (typeof expiresAt !== "number") {
      throw new TypeError("authenticatedSocket() needs authenticate({ socket: true }) before it");
    }
    const events = createEvents(c);
    let cancel = () => {};
    const offered = offeredProtocols(c.req.header("Sec-WebSocket-Protocol"));
    return await upgradeWebSocket(c, {
      ...events,
      onOpen: (e, ws) => {
        cancel = closeAtExpiry(
          expiresAt,
          () => ws.close(TOKEN_EXPIRED_CLOSE.code, TOKEN_EXPIRED_CLOSE.reason),
        );
        events.onOpen?.(e, ws);
      },
      onClose: (e, ws) => {
        cancel();
        events.onClose?.(e, ws);
      },
    }, {
      // Only `bearer` is ever selected: the adapter would otherwise echo the
      // first offered value, which may be the token.
      protocol: offered.includes(BEARER_PROTOCOL) ? BEARER_PROTOCOL : undefined,
    });
  };
}
