/**
 * The outbox relay process: `deno task run:relay`. Streams outbox inserts
 * from the WAL into Kafka exactly once (relay.ts), serves /health and
 * /metrics, stops cleanly on SIGTERM/SIGINT.
 */
// First: the process may replace itself with its memory settings (memory_settings.ts).
import "./apply_memory_settings.ts";
import { createLogger } from "../kit/log.ts";
import { loadRelayConfig } from "./config.ts";
import { relayHttp } from "./http.ts";
import { Relay } from "./relay.ts";

const cfg = loadRelayConfig();
const log = createLogger("outbox-relay");
const relay = new Relay(cfg, log);

const server = cfg.httpPort > 0
  ? Deno.serve(
    { hostname: "127.0.0.1", port: cfg.httpPort, onListen: () => {} },
    relayHttp(relay).fetch,
  )
  : null;

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, () => {
    log.info("stopping", { signal });
    relay.stop();
  });
}

log.info("relay starting", {
  instance: cfg.instanceId,
  slot: cfg.slotName,
  httpPort: cfg.httpPort,
});
await relay.run();
await server?.shutdown();
log.info("relay stopped");
Deno.exit(0);
