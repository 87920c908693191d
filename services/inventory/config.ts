/**
 * Every setting of the inventory service, read from the environment once
 * (`./dev` and `.data/dev.env` provide the suite's values): the participant
 * settings of kit/service.ts under the `INVENTORY_` prefix, HTTP port 7102, consumer
 * group and inbox name `inventory-service`.
 *
 * @module
 */
import { STOCK_BREAKER } from "../../kit/breaker.ts";
import { loadParticipantConfig, type ParticipantConfig } from "../../kit/service.ts";

export type InventoryConfig = ParticipantConfig;

export function loadInventoryConfig(): InventoryConfig {
  // SPEC §9.1's stock breaker, around the stock handlers' Postgres work.
  return loadParticipantConfig({
    prefix: "INVENTORY",
    name: "inventory",
    httpPort: 7102,
    breaker: STOCK_BREAKER,
  });
}
