/**
 * The Hono app every service starts from: a request id on every request and
 * response (`X-Request-Id`, taken from the caller when it sends a sane one),
 * a body size limit, JSON errors and 404s in the kit's one shape
 * (errors.ts), `GET /health`, and `GET /metrics` (Prometheus, kit/metrics.ts,
 * with every request timed). A service adds its routes to it.
 *
 * @module
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import { createLogger, type Logger } from "../log.ts";
import { httpMetrics, metricsText, type Registry } from "../metrics.ts";
import type { User } from "./auth.ts";
import { errorHandler, HttpError, notFound } from "./errors.ts";

/** The context variables of a kit app; `user` and `tokenExpiresAt` are set by `authenticate()` only. */
export type AppEnv = { Variables: { requestId: string; user: User; tokenExpiresAt: number } };

/** 64 KiB: an order with a few hundred lines fits; nothing larger is expected. */
export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;

export interface AppOptions {
  /** The service's name, in /health and the logs. */
  service: string;
  /** Defaults to a logger named after the service. */
  log?: Logger;
  /** Largest request body accepted; larger ones get a 413. */
  bodyLimitBytes?: number;
  /**
   * Readiness checks for /health, by name (e.g. `db: () => sql\`select 1\``):
   * any that throws makes /health answer 503.
   */
  checks?: Record<string, () => Promise<unknown>>;
  /** Registries served by `GET /metrics` besides the process's own (kit/metrics.ts). */
  metrics?: Registry[];
}

/**
 * A Hono app with the kit's middleware, error handling and /health.
 *
 * @example
 * ```ts
 * import { createApp } from "./app.ts";
 *
 * const app = createApp({ service: "order" });
 * app.get("/orders/:id", (c) => c.json({ id: c.req.param("id") }));
 * const res = await app.request("/health");
 * console.assert(res.status === 200);
 * ```
 */
export function createApp(opts: AppOptions): Hono<AppEnv> {
  const log = opts.log ?? createLogger(opts.service);
  const maxSize = opts.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const app = new Hono<AppEnv>();
  app.onError(errorHandler(log));
  app.notFound(notFound);
  app.use(requestId());
  app.use(httpMetrics());
  app.use(async function nonErrorThrows(_c, next) {
    // Hono hands only Error instances to onError; anything else thrown would
    // escape it and the error shape with it.
    try {
      await next();
    } catch (err) {
      if (err instanceof Error) throw err;
      throw new Error(`a non-Error was thrown: ${String(err)}`, { cause: err });
    }
  });
  app.use(async function storableUrl(c, next) {
    // Postgres cannot store U+0000: a NUL anywhere in the path or query (a
    // route may read a parameter without a schema) is refused before SQL sees it.
    if (/%00/.test(c.req.url)) throw new HttpError(400, "the URL must not contain NUL characters");
    // Escapes that are not UTF-8 (`%FF`, an encoded surrogate `%ED%A0%80`):
    // Hono would hand a route the undecoded text as the parameter's value.
    if (!decodesAsUtf8(c.req.url)) {
      throw new HttpError(400, "the URL's percent-escapes must encode UTF-8 text");
    }
    await next();
  });
  app.use(bodyLimit({
    maxSize,
    onError: () => {
      throw new HttpError(413, `the request body is larger than ${maxSize} bytes`);
    },
  }));
  app.get("/metrics", async (c) => {
    const { contentType, body } = await metricsText(opts.metrics);
    return c.body(body, 200, { "content-type": contentType });
  });
  app.get("/health", async (c) => {
    const checks: Record<string, "ok" | "failing"> = {};
    for (const [name, check] of Object.entries(opts.checks ?? {})) {
      try {
        await check();
        checks[name] = "ok";
      } catch (err) {
        log.warn("health check failed", { check: name, error: err });
        checks[name] = "failing";
      }
    }
    const healthy = Object.values(checks).every((s) => s === "ok");
    return c.json(
      { status: healthy ? "ok" : "unavailable", service: opts.service, checks },
      healthy ? 200 : 503,
    );
  });
  return app;
}

/** Whether every percent-escape in `url` is part of a well-formed UTF-8 sequence. */
function decodesAsUtf8(url: string): boolean {
  try {
    decodeURIComponent(url.replace(/%(?![0-9A-Fa-f]{2})/g, "%25"));
    return true;
  } catch {
    return false;
  }
}
