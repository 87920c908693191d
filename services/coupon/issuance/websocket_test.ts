/**
 * `GET /coupons/ws` (issue 15 item 9): the token comes as a subprotocol,
 * never from the URL, and the socket is closed when the token expires.
 */
import assert from "node:assert/strict";
import { createApp } from "../../../kit/http/app.ts";
import { eventually } from "../../../tests/support/dev.ts";
import { issueToken } from "../../../kit/http/auth.ts";
import { openSocket, serveApp } from "../../../kit/http/socket_testing.ts";
import type { CouponNotifier } from "./notifier.ts";
import { mountCouponSocket } from "./websocket.ts";

const secret = "a-coupon-socket-test-secret-of-32-characters";

Deno.test("GET /coupons/ws: token as a subprotocol, not in the URL, closed at expiry", async () => {
  const seen: string[] = [];
  const notifier = {
    add: (userId: string, ws: WebSocket) => void ws.send(`hello ${userId}`),
    remove: (userId: string) => void seen.push(`remove ${userId}`),
  } as unknown as CouponNotifier;
  const app = createApp({ service: "coupon-ws-test", log: console });
  mountCouponSocket(app, notifier, secret);
  const server = serveApp(app);
  try {
    const token = await issueToken(secret, { sub: "coupon-ws-1" }, 2);
    const inUrl = openSocket(server.wsUrl(`/coupons/ws?access_token=${token}`));
    assert.equal((await inUrl.opening).opened, false, "a token in the URL is refused");
    await inUrl.closed;

    const s = openSocket(server.wsUrl("/coupons/ws"), ["bearer", token]);
    assert.deepEqual(await s.opening, { opened: true, protocol: "bearer" });
    assert.equal(await s.firstMessage, "hello coupon-ws-1");
    const closed = await s.closed;
    assert.equal(closed.code, 4401, `closed with ${closed.code} ${closed.reason}`);
    await eventually(
      "the server to drop the socket",
      () => Promise.resolve(seen.length === 1 || undefined),
      2_000,
      20,
    );
    assert.deepEqual(seen, ["remove coupon-ws-1"]);
  } finally {
    await server.close();
  }
});
