/**
 * The point service: `deno task run:point`. Users' point balances over
 * HTTP; the saga's point commands from Kafka (SPEC §4.1, §7.3).
 */
import { runService } from "../../kit/service.ts";
import { loadPointConfig } from "./config.ts";
import { handlers, TOPICS } from "./handlers/mod.ts";
import { pointHttp } from "./http.ts";

await runService({
  name: "point",
  role: "point_service",
  config: loadPointConfig(),
  http: pointHttp,
  handlers,
  topics: TOPICS,
});
