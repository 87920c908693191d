/**
 * The dead-letter service: `deno task run:deadletter`. Stores every dead
 * letter of the suite from the DLQ topics, alerts, re-sends the retryable
 * ones every DEADLETTER_REPLAY_INTERVAL_MS, and serves the admin API
 * (SPEC §9.2). README.md has the API.
 */
import { connectService } from "../../db/mod.ts";
import { createKafka, IdempotentProducer } from "../../kafka/mod.ts";
import { createLogger } from "../../kit/log.ts";
import { loadDeadLetterConfig } from "./config.ts";
import { startDeadLetterConsumer } from "./handlers/consumer.ts";
import type { DeadLetterDeps } from "./handlers/deps.ts";
import { startPeriodicReplay } from "./handlers/replay.ts";
import { deadLetterHttp } from "./http.ts";
import { DeadLetterMetrics } from "./metrics.ts";
import { countDeadLetters } from "./store.ts";

const cfg = loadDeadLetterConfig();
const log = createLogger("deadletter");
const sql = connectService("deadletter_service", { max: cfg.dbPoolMax });
const kafka = createKafka({ brokers: cfg.kafkaBrokers, clientId: cfg.groupId });
const producer = new IdempotentProducer(kafka);
await producer.connect();
const deps: DeadLetterDeps = {
  sql,
  log,
  producer,
  metrics: new DeadLetterMetrics(() => countDeadLetters(sql)),
  maxRetries: cfg.maxRetries,
  relayDlqTopic: cfg.relayDlqTopic,
};

const consumer = await startDeadLetterConsumer(deps, {
  kafka,
  groupId: cfg.groupId,
  topics: cfg.topics,
});
const stopReplay = startPeriodicReplay(deps, cfg.replayIntervalMs);
const app = deadLetterHttp({ ...deps, jwtSecret: cfg.jwtSecret });
const server = Deno.serve(
  { hostname: cfg.httpHost, port: cfg.httpPort, onListen: () => {} },
  app.fetch,
);
log.info("deadletter service listening", {
  host: cfg.httpHost,
  port: server.addr.port,
  replay_interval_ms: cfg.replayIntervalMs,
  max_retries: cfg.maxRetries,
});

const shutdown = async () => {
  await stopReplay();
  await consumer.stop();
  await server.shutdown();
  await producer.disconnect();
  await sql.end({ timeout: 5 });
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", shutdown);
Deno.addSignalListener("SIGINT", shutdown);
