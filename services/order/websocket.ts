/**
 * `GET /orders/ws`: a WebSocket on which the caller receives a JSON message
 * for every status change of their orders ({ type, orderId, status, reason }).
 * Browsers cannot set headers on a WebSocket, so the bearer token may also
 * come as `?access_token=`. `GET /admin/orders/ws` (admin role) receives every
 * user's changes, with `userId` and, for a new order, its `mode`.
 *
 * @module
 */
import type { Hono } from "hono";
import { upgradeWebSocket } from "hono/deno";
import { authenticate, currentUser, requireRole } from "../../kit/http/auth.ts";
import type { AppEnv } from "../../kit/http/app.ts";
import type { OrderNotifier } from "./notifications.ts";

export function mountOrderSocket(app: Hono<AppEnv>, notifier: OrderNotifier): void {
  app.get(
    "/orders/ws",
    authenticate({ allowQueryToken: true }),
    upgradeWebSocket((c) => {
      const user = currentUser(c);
      return {
        onOpen: (_e, ws) => notifier.add(user.id, ws.raw as WebSocket),
        onClose: (_e, ws) => notifier.remove(user.id, ws.raw as WebSocket),
      };
    }),
  );
  app.get(
    "/admin/orders/ws",
    authenticate({ allowQueryToken: true }),
    requireRole("admin"),
    upgradeWebSocket(() => ({
      onOpen: (_e, ws) => notifier.addWatcher(ws.raw as WebSocket),
      onClose: (_e, ws) => notifier.removeWatcher(ws.raw as WebSocket),
    })),
  );
}
