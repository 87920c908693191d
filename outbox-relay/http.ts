/**
 * The relay's HTTP surface: `/health` (JSON: state, positions, lag) and
 * `/metrics` (Prometheus text).
 *
 * @module
 */
import { Hono } from "hono";
import { metricsText } from "../kit/metrics.ts";
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
    // The relay's own figures and the process's (kit/metrics.ts: CPU, memory, …).
    const { contentType, body } = await metricsText([relay.metrics.registry]);
    c.header("content-type", contentType);
    return c.body(body);
  });
  return app;
}
