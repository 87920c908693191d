/**
 * Reading a command's payload against its contract schema. A payload that
 * does not fit can never be handled, however often it is retried: it is
 * refused with an {@link InvalidPayloadError}, a PoisonMessageError, which
 * the consumer loop dead-letters at once, before anything is written.
 *
 * @module
 */
import type { z } from "zod";
import { PoisonMessageError } from "./consumer.ts";

/** A command whose payload does not match its contract. */
export class InvalidPayloadError extends PoisonMessageError {
  override name = "InvalidPayloadError";
}

/** `payload` as `T`, or an {@link InvalidPayloadError} naming each wrong field. */
export function parsePayload<T>(schema: z.ZodType<T>, eventType: string, payload: unknown): T {
  const result = schema.safeParse(payload);
  if (result.success) return result.data;
  const problems = result.error.issues
    .map((i) => `${i.path.length > 0 ? i.path.join(".") : "payload"}: ${i.message}`)
    .join("; ");
  throw new InvalidPayloadError(`invalid ${eventType} payload: ${problems}`);
}
