/**
 * Every setting of the point service, read from the environment once
 * (`./dev` and `.data/dev.env` provide the suite's values): the participant
 * settings of kit/service.ts under the `POINT_` prefix, HTTP port 7104, consumer
 * group and inbox name `point-service`.
 *
 * @module
 */
import { STOCK_BREAKER } from "../../kit/breaker.ts";
import { loadParticipantConfig, type ParticipantConfig } from "../../kit/service.ts";

export type PointConfig = ParticipantConfig;

export function loadPointConfig(): PointConfig {
  // SPEC §9.1 names no point breaker: a point deduction is the same kind of
  // work as a stock deduction (one conditional update), so it has the stock figures.
  return loadParticipantConfig({
    prefix: "POINT",
    name: "point",
    httpPort: 7104,
    breaker: STOCK_BREAKER,
  });
}
