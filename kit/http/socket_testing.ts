/**
 * Test helpers for WebSocket routes: serve an app on a free port, open a
 * socket to it the way a browser does, and see how it ended — opened with
 * which subprotocol, refused, or closed with which code.
 *
 * @module
 */
import type { Hono } from "hono";

/** `app` served on a free local port until `close()`. */
export function serveApp(
  // deno-lint-ignore no-explicit-any
  app: Hono<any>,
): { wsUrl: (path: string) => string; close: () => Promise<void> } {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, app.fetch);
  return {
    wsUrl: (path) => `ws://127.0.0.1:${server.addr.port}${path}`,
    close: () => server.shutdown(),
  };
}

/** What became of a socket: opened (with the server's subprotocol), or closed before it did. */
export type Opening = { opened: true; protocol: string } | { opened: false; code: number };

/** A client socket, its opening, its first message, and how it closed. */
export function openSocket(url: string, protocols?: string[]) {
  const ws = new WebSocket(url, protocols);
  const opening = new Promise<Opening>((resolve) => {
    ws.onopen = () => resolve({ opened: true, protocol: ws.protocol });
    ws.addEventListener("close", (e) => resolve({ opened: false, code: e.code }));
  });
  const firstMessage = new Promise<string>((resolve) => {
    ws.onmessage = (m) => resolve(String(m.data));
  });
  const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) => {
    ws.addEventListener(
      "close",
      (e) => resolve({ code: e.code, reason: e.reason, at: Date.now() }),
    );
  });
  return { ws, opening, firstMessage, closed };
}
