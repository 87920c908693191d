/**
 * Who consumes which event type, read from the consumers' own handler
 * tables (each service's handlers/mod.ts, the order service's REPLIES), so
 * the documents name exactly the types a consumer acts on. The dead-letter
 * service reads every `<topic>-dlq` (services/deadletter/config.ts).
 *
 * @module
 */
import { handlers as couponHandlers } from "../services/coupon/handlers/mod.ts";
import { handlers as inventoryHandlers } from "../services/inventory/handlers/mod.ts";
import { REPLIES } from "../services/order/handlers/replies.ts";
import { handlers as pointHandlers } from "../services/point/handlers/mod.ts";
import type { ServiceName } from "./catalog.ts";

const HANDLED: Readonly<Record<ServiceName, readonly string[]>> = {
  order: Object.keys(REPLIES),
  inventory: Object.keys(inventoryHandlers),
  coupon: Object.keys(couponHandlers),
  point: Object.keys(pointHandlers),
  deadletter: [],
};

/** The services whose consumers handle `type`, in a stable order. */
export function consumersOf(type: string): ServiceName[] {
  return (Object.keys(HANDLED) as ServiceName[]).filter((s) => HANDLED[s].includes(type));
}
