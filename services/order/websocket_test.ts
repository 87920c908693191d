/**
 * The order WebSockets (issue 15 item 9): the token comes as a subprotocol
 * (`bearer, <token>`), never from the URL, and the socket is closed when
 * the token expires. A real server on a free port; the notifier is a
 * stand-in that greets whoever it is given.
 */
import assert from "node:assert/strict";
import { jwtSecret } from "../../kit/env.ts";
import { eventually } from "../../tests/support/dev.ts";
import { createApp } from "../../kit/http/app.ts";
import { issueToken } from "../../kit/http/auth.ts";
import { openSocket, serveApp } from "../../kit/http/socket_testing.ts";
import type { OrderNotifier } from "./notifications.ts";
import { mountOrderSocket } from "./websocket.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function greeter() {
  const seen: string[] = [];
  const notifier = {
    add: (userId: string, ws: WebSocket) => {
      seen.push(`add ${userId}`);
      ws.send(`hello ${userId}`);
    },
    remove: (userId: string) => void seen.push(`remove ${userId}`),
    addWatcher: (ws: WebSocket) => {
      seen.push("watch");
      ws.send("hello watcher");
    },
    removeWatcher: () => void seen.push("unwatch"),
  };
  return { seen, notifier: notifier as unknown as OrderNotifier };
}

function serveOrderSockets() {
  const { seen, notifier } = greeter();
  const app = createApp({ service: "order-ws-test", log: quiet });
  mountOrderSocket(app, notifier);
  return { seen, ...serveApp(app) };
}

Deno.test("GET /orders/ws takes the token as a subprotocol and answers `bearer`, never the token", async () => {
  const server = serveOrderSockets();
  try {
    const token = await issueToken(jwtSecret(), { sub: "ws-user-1" }, 60);
    const s = openSocket(server.wsUrl("/orders/ws"), ["bearer", token]);
    assert.deepEqual(await s.opening, { opened: true, protocol: "bearer" });
    assert.equal(await s.firstMessage, "hello ws-user-1");
    s.ws.close();
    await s.closed;
    const admin = await issueToken(jwtSecret(), { sub: "ws-admin", roles: ["admin"] }, 60);
    const w = openSocket(server.wsUrl("/admin/orders/ws"), ["bearer", admin]);
    assert.deepEqual(await w.opening, { opened: true, protocol: "bearer" });
    assert.equal(await w.firstMessage, "hello watcher");
    w.ws.close();
    await w.closed;
  } finally {
    await server.close();
  }
});

Deno.test("a token in the URL (?access_token=) opens no order socket", async () => {
  const server = serveOrderSockets();
  try {
    const token = await issueToken(jwtSecret(), { sub: "ws-user-2", roles: ["admin"] }, 60);
    for (const path of ["/orders/ws", "/admin/orders/ws"]) {
      const s = openSocket(server.wsUrl(`${path}?access_token=${token}`));
      assert.equal((await s.opening).opened, false, path);
      await s.closed;
    }
    assert.deepEqual(server.seen, []);
  } finally {
    await server.close();
  }
});

Deno.test("an order socket is closed with 4401 when its token expires", async () => {
  const server = serveOrderSockets();
  try {
    const token = await issueToken(jwtSecret(), { sub: "ws-user-3" }, 2);
    const s = openSocket(server.wsUrl("/orders/ws"), ["bearer", token]);
    assert.equal((await s.opening).opened, true);
    const exp = JSON.parse(atob(token.split(".")[1])).exp * 1000;
    const closed = await s.closed;
    assert.deepEqual({ code: closed.code, reason: closed.reason }, {
      code: 4401,
      reason: "token expired",
    });
    assert.ok(
      closed.at >= exp && closed.at < exp + 1_500,
      `closed ${closed.at - exp} ms after expiry`,
    );
    // The server hears the close handshake end a moment after the client.
    await eventually(
      "the server to drop the socket",
      () => Promise.resolve(server.seen.length === 2 || undefined),
      2_000,
      20,
    );
    assert.deepEqual(server.seen, ["add ws-user-3", "remove ws-user-3"]);
  } finally {
    await server.close();
  }
});
