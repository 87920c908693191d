/**
 * The coupon service: `deno task run:coupon`. Users' coupons over HTTP;
 * the saga's coupon commands from Kafka (SPEC §4.1, §7.3); first-come-first-
 * served campaigns (SPEC §5: issuance/). The steps of kit/service.ts
 * `runService`, plus issuance's Redis connections, grant worker and
 * WebSocket notifier, which are stopped first on SIGTERM or SIGINT.
 */
import { connectService } from "../../db/mod.ts";
import { createKafka } from "../../kafka/mod.ts";
import { startConsumer } from "../../kit/consumer.ts";
import { scheduleInboxCleanup } from "../../kit/inbox_retention.ts";
import { createLogger } from "../../kit/log.ts";
import { loadCouponConfig } from "./config.ts";
import { handlers, TOPICS } from "./handlers/mod.ts";
import { couponHttp } from "./http.ts";
import { startIssuance } from "./issuance/mod.ts";

const cfg = loadCouponConfig();
const log = createLogger("coupon");
const sql = connectService("coupon_service", { max: cfg.dbPoolMax });
const kafka = createKafka({ brokers: cfg.kafkaBrokers, clientId: cfg.groupId });

const issuance = startIssuance(cfg.issuance, sql, log);
const app = couponHttp({
  sql,
  log,
  jwtSecret: cfg.jwtSecret,
  issuer: issuance.issuer,
  notifier: issuance.notifier,
});
const consumer = cfg.sagaConsumer
  ? await startConsumer({
    kafka,
    sql,
    log,
    handlers,
    topics: [...TOPICS],
    groupId: cfg.groupId,
    consumerName: cfg.consumerName,
    fromBeginning: cfg.fromBeginning,
    partitionsConcurrently: cfg.consumerConcurrency,
    batchMessages: cfg.consumerBatch,
    retry: cfg.retry,
    breaker: cfg.breaker, // SPEC §9.1's coupon breaker (config.ts)
  })
  : null;
// The inbox's retention, as runService does (kit/inbox_retention.ts).
const inboxCleanup = scheduleInboxCleanup({ sql, log, schema: "coupons", ...cfg.inboxRetention });
const server = Deno.serve(
  { hostname: cfg.httpHost, port: cfg.httpPort, onListen: () => {} },
  app.fetch,
);
log.info("coupon service listening", {
  host: cfg.httpHost,
  port: server.addr.port,
  issuer: cfg.issuance.issuer,
});

const shutdown = async () => {
  await issuance.stop();
  await consumer?.stop();
  await inboxCleanup.stop();
  await server.shutdown();
  await sql.end({ timeout: 5 });
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", shutdown);
Deno.addSignalListener("SIGINT", shutdown);
