/**
 * Every setting of the point service, read from the environment once
 * (`./dev` and `.data/dev.env` provide the suite's values): the participant
 * settings of kit/service.ts under the `POINT_` prefix, HTTP port 7104, consumer
 * group and inbox name `point-service`.
 *
 * @module
 */
import { loadParticipantConfig, type ParticipantConfig } from "../../kit/service.ts";

export type PointConfig = ParticipantConfig;

export function loadPointConfig(): PointConfig {
  return loadParticipantConfig({ prefix: "POINT", name: "point", httpPort: 7104 });
}
