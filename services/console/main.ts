/**
 * The saga console: `deno task run:console` (or `./dev up`), on
 * CONSOLE_HTTP_PORT (default 7106). A page over the suite's own APIs, Jaeger
 * and the processes' metrics; it keeps no state.
 */
import { createLogger } from "../../kit/log.ts";
import { loadConsoleConfig } from "./config.ts";
import { consoleApp } from "./http.ts";

const cfg = loadConsoleConfig();
const log = createLogger("console");
const app = consoleApp({ cfg, log });
const server = Deno.serve(
  { hostname: cfg.httpHost, port: cfg.httpPort, onListen: () => {} },
  app.fetch,
);
log.info("console listening", {
  url: `http://${cfg.httpHost}:${server.addr.port}/`,
  upstream: cfg.upstream,
  jaeger: cfg.jaegerQueryUrl,
});

const shutdown = async () => {
  await server.shutdown();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", shutdown);
Deno.addSignalListener("SIGINT", shutdown);
