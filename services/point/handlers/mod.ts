/**
 * What the point service's consumer handles: its command topic and the
 * compensation topic, one handler per event type (other types on those
 * topics are skipped by the loop).
 *
 * @module
 */
import type { EventHandlers } from "../../../kit/mod.ts";
import { COMPENSATION_TOPIC, POINT_TOPIC, PointEvents } from "../events.ts";
import { handlePointDeductionRequested } from "./point_deduction_requested.ts";
import { handlePointRestoreRequested } from "./point_restore_requested.ts";

export { handlePointDeductionRequested, handlePointRestoreRequested };
export { InvalidPayloadError } from "./payload.ts";

/** The topics the consumer reads. */
export const TOPICS: readonly string[] = [POINT_TOPIC, COMPENSATION_TOPIC];

/** Handlers by event type, for `startConsumer({ handlers })`. */
export const handlers: EventHandlers = {
  [PointEvents.DeductionRequested]: async (tx, event) => {
    await handlePointDeductionRequested(tx, event.payload);
  },
  [PointEvents.RestoreRequested]: async (tx, event) => {
    await handlePointRestoreRequested(tx, event.payload);
  },
};
