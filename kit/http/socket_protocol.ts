/**
 * How a WebSocket client hands its bearer token over without putting it in
 * the URL: it offers two subprotocols, `bearer` and the token itself —
 * `new WebSocket(url, bearerProtocols(token))` sends
 * `Sec-WebSocket-Protocol: bearer, <token>` — and the server answers with
 * `bearer` alone, so the token is never echoed. Browsers cannot set an
 * Authorization header on a WebSocket, and a token in the URL ends up in
 * server spans (`url.full`), proxies' access logs and browser history.
 *
 * @module
 */

/** The subprotocol that says "the other one is my bearer token"; the one the server selects. */
export const BEARER_PROTOCOL = "bearer";

/** JWT compact form: what a subprotocol may carry as a token. */
const JWT = /^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*$/;

/**
 * The subprotocols a client offers to authenticate a socket with `token`.
 *
 * @example
 * ```ts
 * import { bearerProtocols } from "./socket_protocol.ts";
 *
 * console.assert(bearerProtocols("a.b.c").join(", ") === "bearer, a.b.c");
 * ```
 */
export function bearerProtocols(token: string): string[] {
  return [BEARER_PROTOCOL, token];
}

/** The offered subprotocols of a `Sec-WebSocket-Protocol` header. */
export function offeredProtocols(header: string | undefined | null): string[] {
  return (header ?? "").split(",").map((p) => p.trim()).filter((p) => p !== "");
}

/** The token offered beside `bearer` in a `Sec-WebSocket-Protocol` header, if any. */
export function tokenFromProtocols(header: string | undefined | null): string | undefined {
  const offered = offeredProtocols(header);
  if (!offered.includes(BEARER_PROTOCOL)) return undefined;
  return offered.find((p) => p !== BEARER_PROTOCOL && JWT.test(p));
}
