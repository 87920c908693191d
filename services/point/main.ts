/**
 * The point service: `deno task run:point`. Users' point balances over
 * HTTP; the saga's point commands from Kafka (SPEC §4.1, §7.3).
 */
import { connectService } from "../../db/mod.ts";
import { createKafka } from "../../kafka/mod.ts";
import { createLogger, startConsumer } from "../../kit/mod.ts";
import { loadPointConfig } from "./config.ts";
import { handlers, TOPICS } from "./handlers/mod.ts";
import { pointHttp } from "./http.ts";

const cfg = loadPointConfig();
const log = createLogger("point");
const sql = connectService("point_service", { max: cfg.dbPoolMax });
const kafka = createKafka({ brokers: cfg.kafkaBrokers, clientId: cfg.groupId });

const app = pointHttp({ sql, log, jwtSecret: cfg.jwtSecret });
const consumer = await startConsumer({
  kafka,
  sql,
  log,
  handlers,
  topics: [...TOPICS],
  groupId: cfg.groupId,
  consumerName: cfg.consumerName,
  fromBeginning: cfg.fromBeginning,
  retry: cfg.retry,
});
const server = Deno.serve(
  { hostname: cfg.httpHost, port: cfg.httpPort, onListen: () => {} },
  app.fetch,
);
log.info("point service listening", { host: cfg.httpHost, port: server.addr.port });

const shutdown = async () => {
  await consumer.stop();
  await server.shutdown();
  await sql.end({ timeout: 5 });
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", shutdown);
Deno.addSignalListener("SIGINT", shutdown);
