/**
 * The relay's HTTP surface: `/health` (JSON: state, positions, lag) and
 * `/metrics` (Prometheus text).
 *
 * @module
 */
import { Hono } from "hono";
import type { Relay } from "./relay.ts";

export function relayHttp(relay: Relay): Hono {
  const app = new Hono();
  app.get("/health", (c) => {
    const h = relay.health();
    // A standby is healthy: it is ready to take over.
    const ok = h.state === "active" || h.state === "standby";
    return c.json(h, ok ? 200 : 503);
  });
  app.get("/metrics", async (c) => {
    c.header("content-type", relay.metrics.registry.contentType);
    return c.body(await relay.metrics.registry.metrics());
  });
  return app;
}
