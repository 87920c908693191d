/**
 * The saga console's HTTP surface: the page (static/: HTML, one ES module,
 * one stylesheet — no build step) and a small JSON API under `/api/` that
 * gathers what the page shows from the other services, always with the
 * caller's own token:
 *
 *   GET  /api/me                        who the token names
 *   GET  /api/orders?status=&user=&from=&to=&limit=
 *                                       orders, newest first (an admin: everyone's; a user: own)
 *   GET  /api/orders/ws                 WebSocket: live status changes (token as the subprotocol
 *                                       beside `bearer`; closed with 4401 when it expires)
 *   GET  /api/orders/:id                the order, its history as a timeline, its events, trace id
 *   GET  /api/orders/:id/trace          its OpenTelemetry trace from Jaeger, as a waterfall
 *   GET  /api/admin/dead-letters?status=&limit=       dead letters (admin)
 *   POST /api/admin/dead-letters/:id/replay           replay one (admin)
 *   POST /api/admin/dead-letters/replay               replay every retryable one (admin)
 *   GET  /api/admin/campaigns                         coupon campaigns with counts (admin)
 *   GET  /api/admin/system              relay lag, consumer lag, breakers, brokers (admin)
 *
 * @module
 */
import type { Hono } from "hono";
import { z } from "zod";
import { type AppEnv, createApp } from "../../kit/http/app.ts";
import { authenticate, currentUser, requireRole } from "../../kit/http/auth.ts";
import { HttpError } from "../../kit/http/errors.ts";
import { authenticatedSocket, TOKEN_EXPIRED_CLOSE } from "../../kit/http/socket.ts";
import { bearerProtocols, tokenFromProtocols } from "../../kit/http/socket_protocol.ts";
import { validate } from "../../kit/http/validate.ts";
import type { Logger } from "../../kit/log.ts";
import { BrokerProber } from "./brokers.ts";
import type { ConsoleConfig } from "./config.ts";
import { JaegerClient, toWaterfall } from "./jaeger.ts";
import { parsePrometheus, type Sample, summarize } from "./metrics.ts";
import { buildTimeline, type HistoryEntry, type OrderEvent, traceIdOf } from "./timeline.ts";
import { Upstream } from "./upstream.ts";

const STATIC_DIR = new URL("./static/", import.meta.url);
const STATIC_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
};

/** Only the page's own resources: what the page loads, nothing the caller may pick. */
const CSP = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "style-src 'self'",
  "script-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join("; ");

const OrderQuery = z.object({
  status: z.enum(["PENDING", "COMPENSATING", "COMPLETED", "CANCELLED"]).optional(),
  user: z.string().min(1).max(128).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
});

const DeadLetterQuery = z.object({
  status: z.enum(["PENDING", "REPLAYED", "NON_RETRYABLE", "RESOLVED"]).optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
});

export interface ConsoleDeps {
  cfg: ConsoleConfig;
  log: Logger;
}

function bearer(c: { req: { header(name: string): string | undefined } }): string {
  const h = c.req.header("Authorization") ?? "";
  return h.replace(/^Bearer +/, "");
}

function qs(params: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}

export function consoleApp(deps: ConsoleDeps): Hono<AppEnv> {
  const { cfg, log } = deps;
  const t = cfg.upstreamTimeoutMs;
  const up = {
    order: new Upstream("order", cfg.upstream.order, t),
    inventory: new Upstream("inventory", cfg.upstream.inventory, t),
    coupon: new Upstream("coupon", cfg.upstream.coupon, t),
    point: new Upstream("point", cfg.upstream.point, t),
    deadletter: new Upstream("dead-letter", cfg.upstream.deadletter, t),
    relay: new Upstream("relay", cfg.upstream.relay, t),
  };
  const jaeger = new JaegerClient(cfg.jaegerQueryUrl, t);
  const brokers = new BrokerProber(cfg.kafkaBrokers);
  const app = createApp({ service: "console", log });

  // ---- the page ---------------------------------------------------------------------------
  const serveFile = async (name: string) => {
    const ext = name.split(".").pop() ?? "";
    const type = STATIC_TYPES[ext];
    if (!type || !/^[a-z0-9_-]+\.[a-z]+$/.test(name)) throw new HttpError(404, "no such file");
    let body: Uint8Array;
    try {
      body = await Deno.readFile(new URL(name, STATIC_DIR));
    } catch {
      throw new HttpError(404, "no such file");
    }
    return new Response(body as BodyInit, {
      headers: {
        "Content-Type": type,
        "Cache-Control": "no-cache",
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
      },
    });
  };
  app.get("/", () => serveFile("index.html"));
  app.get("/static/:file", (c) => serveFile(c.req.param("file")));

  // ---- live orders: the order service's WebSocket, relayed -----------------------------
  // First, so the header-only authentication of /api/* does not take it.
  app.get(
    "/api/orders/ws",
    authenticate({ socket: true }),
    authenticatedSocket((c) => {
      const user = currentUser(c);
      const token = tokenFromProtocols(c.req.header("Sec-WebSocket-Protocol")) ?? bearer(c);
      const path = user.roles.includes("admin") ? "/admin/orders/ws" : "/orders/ws";
      // The caller's token goes on as a subprotocol too: never in a URL.
      const url = `${cfg.upstream.order.replace(/^http/, "ws")}${path}`;
      let upstream: WebSocket | null = null;
      return {
        onOpen: (_e, ws) => {
          upstream = new WebSocket(url, bearerProtocols(token));
          upstream.onopen = () => ws.send(JSON.stringify({ type: "connected" }));
          upstream.onmessage = (m) => {
            if (typeof m.data === "string") ws.send(m.data);
          };
          upstream.onclose = (e) =>
            e.code === TOKEN_EXPIRED_CLOSE.code
              ? ws.close(TOKEN_EXPIRED_CLOSE.code, TOKEN_EXPIRED_CLOSE.reason)
              : ws.close(1011, "order service connection closed");
          upstream.onerror = () => log.warn("order WebSocket failed", { url: path });
        },
        onClose: () => {
          if (upstream && upstream.readyState <= WebSocket.OPEN) upstream.close();
        },
      };
    }),
  );

  app.use("/api/*", authenticate());
  app.use("/api/admin/*", requireRole("admin"));

  app.get("/api/me", (c) => c.json(currentUser(c)));

  // ---- orders -------------------------------------------------------------------------------
  app.get("/api/orders", validate("query", OrderQuery), async (c) => {
    const user = currentUser(c);
    const q = c.req.valid("query");
    const admin = user.roles.includes("admin");
    const path = admin
      ? `/admin/orders${qs({ ...q })}`
      : `/orders${qs({ status: q.status, from: q.from, to: q.to, limit: q.limit })}`;
    return c.json(await up.order.call(bearer(c), "GET", path));
  });

  const loadOrder = async (token: string, id: string) => {
    if (!z.uuid().safeParse(id).success) throw new HttpError(404, "no such order");
    const [order, events] = await Promise.all([
      up.order.call<{ history: HistoryEntry[] } & Record<string, unknown>>(
        token,
        "GET",
        `/orders/${id}`,
      ),
      up.order.call<{ events: OrderEvent[] }>(token, "GET", `/orders/${id}/events`),
    ]);
    const traceId = events.events.map((e) => traceIdOf(e.traceparent)).find((x) => x) ?? null;
    return { order, events: events.events, traceId };
  };

  app.get("/api/orders/:id", async (c) => {
    const { order, events, traceId } = await loadOrder(bearer(c), c.req.param("id"));
    return c.json({ order, events, traceId, timeline: buildTimeline(order.history, events) });
  });

  app.get("/api/orders/:id/trace", async (c) => {
    const id = c.req.param("id");
    // The order first, with the caller's token: someone else's trace is "not found".
    const { traceId: stored } = await loadOrder(bearer(c), id);
    let traceId = stored;
    try {
      traceId ??= (await jaeger.findByOrder(cfg.orderTraceService, id)) ?? null;
      if (!traceId) {
        return c.json({
          traceId: null,
          waterfall: null,
          note: "no trace recorded for this order (is OTEL_DENO=true set on the services?)",
        });
      }
      const found = await jaeger.trace(traceId);
      return c.json({
        traceId,
        waterfall: found ? toWaterfall(found) : null,
        note: found
          ? null
          : "Jaeger has no spans of this trace (yet, or no longer: it keeps traces in memory)",
      });
    } catch (err) {
      log.warn("Jaeger query failed", { error: err as Error });
      return c.json({ traceId, waterfall: null, note: "Jaeger's query API did not answer" });
    }
  });

  // ---- dead letters (services/deadletter) -----------------------------------------------
  app.get("/api/admin/dead-letters", validate("query", DeadLetterQuery), async (c) => {
    const q = c.req.valid("query");
    const [list, stats] = await Promise.all([
      up.deadletter.call(bearer(c), "GET", `/admin/dead-letters${qs({ ...q })}`),
      up.deadletter.call(bearer(c), "GET", "/admin/dead-letters/stats").catch(() => null),
    ]);
    return c.json({ ...list, stats });
  });
  app.post(
    "/api/admin/dead-letters/replay",
    async (c) =>
      c.json(await up.deadletter.call(bearer(c), "POST", "/admin/dead-letters/replay", {})),
  );
  app.post("/api/admin/dead-letters/:id/replay", async (c) => {
    const id = c.req.param("id");
    if (!/^\d{1,18}$/.test(id)) throw new HttpError(404, "no such dead letter");
    return c.json(await up.deadletter.call(bearer(c), "POST", `/admin/dead-letters/${id}/replay`));
  });

  // ---- coupon campaigns (services/coupon) ------------------------------------------------
  app.get(
    "/api/admin/campaigns",
    async (c) => c.json(await up.coupon.call(bearer(c), "GET", "/admin/campaigns")),
  );

  // ---- system -------------------------------------------------------------------------------
  app.get("/api/admin/system", async (c) => {
    const processes = Object.entries(up);
    const probing = brokers.probe();
    const [relayHealth, ...metrics] = await Promise.all([
      up.relay.call(undefined, "GET", "/health").catch((err) => ({
        state: "unreachable",
        lastError: err instanceof Error ? err.message : String(err),
      })),
      ...processes.map(([, u]) => u.text("/metrics")),
    ]);
    const byProcess: Record<string, Sample[]> = {};
    const exposed: Record<string, boolean> = {};
    processes.forEach(([name], i) => {
      const text = metrics[i];
      exposed[name] = text !== undefined;
      if (text !== undefined) byProcess[name] = parsePrometheus(text);
    });
    const health = await Promise.all(processes.map(async ([name, u]) => {
      const started = performance.now();
      const h = await u.call(undefined, "GET", "/health").then(
        (b) => (b as { status?: string; state?: string }).status ?? (b as { state?: string }).state,
        () => "unreachable",
      );
      return { process: name, health: h, ms: Math.round(performance.now() - started) };
    }));
    const summary = summarize(byProcess);
    return c.json({
      at: new Date().toISOString(),
      relay: relayHealth,
      processes: health.map((h) => ({ ...h, metrics: exposed[h.process] })),
      ...summary,
      // Exported by a process when one does; otherwise the console's own check.
      brokers: summary.brokers.length > 0 ? summary.brokers : (await probing).map((b) => ({
        process: "console",
        ...b,
      })),
    });
  });

  return app;
}
