/**
 * Every setting of the coupon service, read from the environment once
 * (`./dev` and `.data/dev.env` provide the suite's values): the participant
 * settings of kit/service.ts under the `COUPON_` prefix, HTTP port 7103, consumer
 * group and inbox name `coupon-service`.
 *
 * @module
 */
import { loadParticipantConfig, type ParticipantConfig } from "../../kit/service.ts";

export type CouponConfig = ParticipantConfig;

export function loadCouponConfig(): CouponConfig {
  return loadParticipantConfig({ prefix: "COUPON", name: "coupon", httpPort: 7103 });
}
