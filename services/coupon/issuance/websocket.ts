/**
 * `GET /coupons/ws`: a WebSocket on which the caller is told what became of
 * their coupons ({ type: CouponStored | CouponSoldOut | CouponAlreadyIssued,
 * campaignId, userId, couponId }). Browsers cannot set headers on a
 * WebSocket, so the bearer token may also come as `?access_token=`.
 *
 * @module
 */
import type { Hono } from "hono";
import { upgradeWebSocket } from "hono/deno";
import type { AppEnv } from "../../../kit/http/app.ts";
import { authenticate, currentUser } from "../../../kit/http/auth.ts";
import type { CouponNotifier } from "./notifier.ts";

export function mountCouponSocket(
  app: Hono<AppEnv>,
  notifier: CouponNotifier,
  jwtSecret?: string,
): void {
  app.get(
    "/coupons/ws",
    authenticate({ secret: jwtSecret, allowQueryToken: true }),
    upgradeWebSocket((c) => {
      const user = currentUser(c);
      return {
        onOpen: (_e, ws) => notifier.add(user.id, ws.raw as WebSocket),
        onClose: (_e, ws) => notifier.remove(user.id, ws.raw as WebSocket),
      };
    }),
  );
}
