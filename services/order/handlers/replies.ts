/**
 * The participants' replies, as inputs to the order saga. One table for all
 * of them: each reply names its order and step, and says succeeded, failed
 * or compensated. A reply for an unknown order or a step already settled
 * changes nothing (saga_runner.ts), so redeliveries and stale replies are
 * harmless even past the inbox.
 *
 * @module
 */
import { z } from "zod";
import type { Tx } from "../../../db/mod.ts";
import { PoisonMessageError } from "../../../kit/consumer.ts";
import type { EventEnvelope } from "../../../kit/envelope.ts";
import { CouponEvents } from "../../coupon/events.ts";
import { StockEvents } from "../../inventory/events.ts";
import { PointEvents } from "../../point/events.ts";
import type { SagaInput } from "../domain/saga.ts";
import { applyToSaga } from "../saga_runner.ts";

const StockReply = z.object({
  orderId: z.uuid(),
  line: z.number().int().positive(),
  reason: z.string().optional(),
});
const OrderReply = z.object({ orderId: z.uuid(), reason: z.string().optional() });

type Reply = {
  schema: typeof StockReply | typeof OrderReply;
  step: (p: { line?: number }) => string;
  outcome: SagaInput["type"];
};

const stock = (outcome: SagaInput["type"]): Reply => ({
  schema: StockReply,
  step: (p) => `stock:${p.line}`,
  outcome,
});
const single = (stepId: string, outcome: SagaInput["type"]): Reply => ({
  schema: OrderReply,
  step: () => stepId,
  outcome,
});

/** Event type → how it moves the saga. */
export const REPLIES: Readonly<Record<string, Reply>> = {
  [StockEvents.Deducted]: stock("succeeded"),
  [StockEvents.DeductionFailed]: stock("failed"),
  [StockEvents.Restored]: stock("compensated"),
  [CouponEvents.Used]: single("coupon", "succeeded"),
  [CouponEvents.UsageFailed]: single("coupon", "failed"),
  [CouponEvents.Restored]: single("coupon", "compensated"),
  [PointEvents.Deducted]: single("point", "succeeded"),
  [PointEvents.DeductionFailed]: single("point", "failed"),
  [PointEvents.Restored]: single("point", "compensated"),
};

/** Applies one reply event to its saga (inside the consumer's transaction). */
export async function handleReply(tx: Tx, event: EventEnvelope): Promise<void> {
  const reply = REPLIES[event.type];
  if (!reply) return;
  const parsed = reply.schema.safeParse(event.payload);
  if (!parsed.success) {
    // Breaks the participant's contract: no retry will fix it (SPEC §9.2).
    throw new PoisonMessageError(`${event.type} payload: ${parsed.error.message}`);
  }
  const p = parsed.data as { orderId: string; line?: number; reason?: string };
  const stepId = reply.step(p);
  const input: SagaInput = reply.outcome === "failed"
    ? { type: "failed", stepId, reason: p.reason ?? "refused" }
    : { type: reply.outcome as "succeeded" | "compensated", stepId };
  await applyToSaga(tx, p.orderId, input, { event: event.type, eventId: event.id });
}
