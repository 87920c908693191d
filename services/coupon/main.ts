/**
 * The coupon service: `deno task run:coupon`. Users' coupons over HTTP;
 * the saga's coupon commands from Kafka (SPEC §4.1, §7.3).
 */
import { runService } from "../../kit/service.ts";
import { loadCouponConfig } from "./config.ts";
import { handlers, TOPICS } from "./handlers/mod.ts";
import { couponHttp } from "./http.ts";

await runService({
  name: "coupon",
  role: "coupon_service",
  config: loadCouponConfig(),
  http: couponHttp,
  handlers,
  topics: TOPICS,
});
