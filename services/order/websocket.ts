/**
 * `GET /orders/ws`: a WebSocket on which the caller receives a JSON message
 * for every status change of their orders ({ type, orderId, status, reason }).
 * Browsers cannot set headers on a WebSocket, so the bearer token may come as
 * a subprotocol: `new WebSocket(url, ["bearer", token])` (never in the URL,
 * kit/http/socket_protocol.ts). `GET /admin/orders/ws` (admin role) receives
 * every user's changes, with `userId` and, for a new order, its `mode`. Both
 * close with 4401 when the token expires.
 *
 * @module
 */
import type { Hono } from "hono";
import { authenticate, currentUser, requireRole } from "../../kit/http/auth.ts";
import type { AppEnv } from "../../kit/http/app.ts";
import { authenticatedSocket } from "../../kit/http/socket.ts";
import type { OrderNotifier } from "./notifications.ts";

export function mountOrderSocket(app: Hono<AppEnv>, notifier: OrderNotifier): void {
  app.get(
    "/orders/ws",
    authenticate({ socket: true }),
    authenticatedSocket((c) => {
      const user = currentUser(c);
      return {
        onOpen: (_e, ws) => notifier.add(user.id, ws.raw as WebSocket),
        onClose: (_e, ws) => notifier.remove(user.id, ws.raw as WebSocket),
      };
    }),
  );
  app.get(
    "/admin/orders/ws",
    authenticate({ socket: true }),
    requireRole("admin"),
    authenticatedSocket(() => ({
      onOpen: (_e, ws) => notifier.addWatcher(ws.raw as WebSocket),
      onClose: (_e, ws) => notifier.removeWatcher(ws.raw as WebSocket),
    })),
  );
}
