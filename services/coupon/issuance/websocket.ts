/**
 * `GET /coupons/ws`: a WebSocket on which the caller is told what became of
 * their coupons ({ type: CouponStored | CouponSoldOut | CouponAlreadyIssued,
 * campaignId, userId, couponId }). Browsers cannot set headers on a
 * WebSocket, so the bearer token may come as a subprotocol:
 * `new WebSocket(url, ["bearer", token])` (never in the URL,
 * kit/http/socket_protocol.ts). Closed with 4401 when the token expires.
 *
 * @module
 */
import type { Hono } from "hono";
import type { AppEnv } from "../../../kit/http/app.ts";
import { authenticate, currentUser } from "../../../kit/http/auth.ts";
import { authenticatedSocket } from "../../../kit/http/socket.ts";
import type { CouponNotifier } from "./notifier.ts";

export function mountCouponSocket(
  app: Hono<AppEnv>,
  notifier: CouponNotifier,
  jwtSecret?: string,
): void {
  app.get(
    "/coupons/ws",
    authenticate({ secret: jwtSecret, socket: true }),
    authenticatedSocket((c) => {
      const user = currentUser(c);
      return {
        onOpen: (_e, ws) => notifier.add(user.id, ws.raw as WebSocket),
        onClose: (_e, ws) => notifier.remove(user.id, ws.raw as WebSocket),
      };
    }),
  );
}
