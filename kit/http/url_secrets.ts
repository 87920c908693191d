/**
 * Credentials out of recorded URLs. Deno's built-in OpenTelemetry records
 * every request's URL on its server span (`url.full`, `url.query`,
 * `url.path`) before any route runs, and Jaeger has no authentication: a
 * client that still puts a token in the URL (`?access_token=`, refused since
 * sockets take it as a subprotocol) would leave it there for anyone to read.
 * {@link redactUrlSecrets} overwrites those attributes with the URL's
 * credentials replaced by `REDACTED`.
 *
 * @module
 */
import { trace } from "@opentelemetry/api";
import type { MiddlewareHandler } from "hono";

/** What a credential is replaced with. */
export const REDACTED = "REDACTED";

/** Query parameters whose value is a credential, whatever it looks like. */
const SECRET_PARAMS =
  /^(access_token|id_token|refresh_token|token|ticket|api_?key|password|secret)$/i;

/** A JWT (`eyJ…` header, payload, signature) anywhere else in the URL. */
const JWT = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

function decoded(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    return text;
  }
}

/**
 * `url` with the values of credential parameters and every JWT-shaped text
 * replaced by `REDACTED`; the rest as it was (not re-encoded).
 *
 * @example
 * ```ts
 * import { redactUrl } from "./url_secrets.ts";
 *
 * console.assert(
 *   redactUrl("http://h/orders/ws?access_token=abc&x=1") === "http://h/orders/ws?access_token=REDACTED&x=1",
 * );
 * ```
 */
export function redactUrl(url: string): string {
  const hash = url.indexOf("#");
  const beforeHash = hash < 0 ? url : url.slice(0, hash);
  const q = beforeHash.indexOf("?");
  const path = (q < 0 ? beforeHash : beforeHash.slice(0, q)).replace(JWT, REDACTED);
  if (q < 0) return path;
  const query = beforeHash.slice(q + 1).split("&").map((pair) => {
    const eq = pair.indexOf("=");
    const name = eq < 0 ? pair : pair.slice(0, eq);
    if (eq >= 0 && SECRET_PARAMS.test(decoded(name))) return `${name}=${REDACTED}`;
    return pair.replace(JWT, REDACTED);
  }).join("&");
  return `${path}?${query}`;
}

/**
 * Middleware: when the request's URL holds a credential, the active (server)
 * span's URL attributes are overwritten with the redacted URL.
 */
export function redactUrlSecrets(): MiddlewareHandler {
  return async function redactUrlSecrets(c, next) {
    const url = c.req.url;
    const redacted = redactUrl(url);
    if (redacted !== url) {
      const span = trace.getActiveSpan();
      const at = new URL(redacted);
      span?.setAttributes({
        "url.full": redacted,
        "url.path": at.pathname,
        "url.query": at.search.slice(1),
      });
    }
    await next();
  };
}
