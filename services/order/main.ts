/**
 * The order service: `deno task run:order`. HTTP API, the saga's reply
 * consumer, the deadline sweeper, WebSocket notifications and the inbox's
 * retention (kit/inbox_retention.ts).
 */
import { connectService } from "../../db/mod.ts";
import { createKafka } from "../../kafka/mod.ts";
import { startConsumer } from "../../kit/consumer.ts";
import { scheduleInboxCleanup } from "../../kit/inbox_retention.ts";
import { createLogger } from "../../kit/log.ts";
import { COUPON_TOPIC } from "../coupon/events.ts";
import { STOCK_TOPIC } from "../inventory/events.ts";
import { POINT_TOPIC } from "../point/events.ts";
import { Admission } from "./admission/admission.ts";
import { INSTANCE_APP_PREFIX } from "./admission/signal.ts";
import { loadOrderConfig } from "./config.ts";
import { startDeadlineSweeper } from "./deadlines.ts";
import { handleReply, REPLIES } from "./handlers/replies.ts";
import { orderApp } from "./http.ts";
import { admissionRead, watchBacklog } from "./metrics.ts";
import { OrderNotifier } from "./notifications.ts";

const cfg = loadOrderConfig();
const log = createLogger("order");
// Named per instance: admission control counts the instances (admission/signal.ts).
const sql = connectService("order_service", {
  max: cfg.dbPoolMax,
  applicationName: `${INSTANCE_APP_PREFIX}${cfg.instanceId}`,
});
watchBacklog(sql);
const kafka = createKafka({
  brokers: cfg.kafkaBrokers,
  clientId: cfg.instanceId,
  logLevel: "nothing",
});

const notifier = new OrderNotifier(log);
await notifier.start({ sql, instanceId: cfg.instanceId });
const replies = await startConsumer({
  kafka,
  sql,
  log,
  groupId: "order-service",
  topics: [STOCK_TOPIC, COUPON_TOPIC, POINT_TOPIC],
  consumerName: "order.saga-replies",
  partitionsConcurrently: cfg.consumerConcurrency,
  batchMessages: cfg.consumerBatch,
  handlers: Object.fromEntries(Object.keys(REPLIES).map((type) => [type, handleReply])),
});
const stopSweeper = startDeadlineSweeper(sql, log, cfg.deadlineSweepMs, cfg.deadlineSweep);
const inboxCleanup = scheduleInboxCleanup({ sql, log, schema: "orders", ...cfg.inboxRetention });

const admission = cfg.admission
  ? Admission.onDatabase(sql, cfg.admission, { read: admissionRead })
  : undefined;
const app = orderApp({ sql, log, sagaDeadlineMs: cfg.sagaDeadlineMs, notifier, admission });
const server = Deno.serve(
  { hostname: "127.0.0.1", port: cfg.httpPort, onListen: () => {} },
  app.fetch,
);
log.info("order service listening", { port: cfg.httpPort, instance: cfg.instanceId });

const shutdown = async () => {
  stopSweeper();
  await replies.stop();
  await inboxCleanup.stop();
  await notifier.stop();
  await server.shutdown();
  await sql.end({ timeout: 5 });
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", shutdown);
Deno.addSignalListener("SIGINT", shutdown);
