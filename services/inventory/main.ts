/**
 * The inventory service: `deno task run:inventory`. Products and their stock
 * over HTTP; the saga's stock commands from Kafka (SPEC §4.1, §7.3).
 */
import { runService } from "../../kit/service.ts";
import { loadInventoryConfig } from "./config.ts";
import { handlers, TOPICS } from "./handlers/mod.ts";
import { inventoryHttp } from "./http.ts";

await runService({
  name: "inventory",
  role: "inventory_service",
  config: loadInventoryConfig(),
  http: inventoryHttp,
  handlers,
  topics: TOPICS,
});
