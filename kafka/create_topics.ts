/**
 * Creates (or brings to spec) every topic of SPEC §3.2 and its `-dlq` twin.
 * Run by `./dev up` and `./dev test`; idempotent.
 */
import { Admin, allTopics, createKafka, parseBrokers } from "./mod.ts";

const brokers = parseBrokers(Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:59091");
const admin = new Admin(createKafka({ brokers, clientId: "create-topics", logLevel: "nothing" }));
await admin.connect();
try {
  for (const t of await admin.ensureTopics(allTopics())) {
    console.log(`    ${t.created ? "created" : "ok     "} ${t.name} (${t.partitions} partitions)`);
  }
} finally {
  await admin.disconnect();
}
