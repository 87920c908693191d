/**
 * The event envelope every record from the outbox relay carries as its value
 * (outbox-relay/messages.ts): `{ id, type, aggregateType, aggregateId,
 * occurredAt, payload }`. {@link parseEnvelope} reads it from a Kafka record,
 * or says why the record is poison (it can never be handled, however often
 * it is tried).
 *
 * @module
 */
import type { IncomingMessage } from "../kafka/mod.ts";

/** An event as consumers see it. */
export interface EventEnvelope<P = Record<string, unknown>> {
  /** The outbox row's event id: the inbox's message id. */
  id: string;
  /** `OrderCreated`, `StockDeductionRequested`, … */
  type: string;
  aggregateType: string;
  aggregateId: string;
  /** ISO 8601, when the event was written to the outbox. */
  occurredAt: string;
  payload: P;
}

/** Why a record is poison: a short reason code and a sentence. */
export interface PoisonReason {
  reason: "empty-value" | "not-json" | "bad-envelope";
  detail: string;
}

export type ParsedEnvelope = { ok: true; event: EventEnvelope } | { ok: false } & PoisonReason;

/**
 * The envelope of `message`, checked field by field.
 *
 * @example
 * ```ts
 * import { parseEnvelope } from "./envelope.ts";
 *
 * const value = new TextEncoder().encode("not json");
 * const parsed = parseEnvelope({
 *   topic: "t", partition: 0, offset: "0", key: null, value, headers: {}, timestamp: 0,
 * });
 * console.assert(!parsed.ok && parsed.reason === "not-json");
 * ```
 */
export function parseEnvelope(message: IncomingMessage): ParsedEnvelope {
  let text: string | null;
  try {
    text = message.value === null
      ? null
      : new TextDecoder("utf-8", { fatal: true }).decode(message.value);
  } catch {
    return { ok: false, reason: "not-json", detail: "the value is not UTF-8 text" };
  }
  if (text === null || text === "") {
    return { ok: false, reason: "empty-value", detail: "the record has no value" };
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return {
      ok: false,
      reason: "not-json",
      detail: `the value is not JSON: ${(err as Error).message}`,
    };
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    return { ok: false, reason: "bad-envelope", detail: "the value is not a JSON object" };
  }
  const o = v as Record<string, unknown>;
  for (const field of ["id", "type", "aggregateType", "aggregateId", "occurredAt"]) {
    if (typeof o[field] !== "string" || o[field] === "") {
      return {
        ok: false,
        reason: "bad-envelope",
        detail: `the envelope's ${field} is missing or not a non-empty string`,
      };
    }
  }
  const payload = o.payload;
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    return { ok: false, reason: "bad-envelope", detail: "the envelope's payload is not an object" };
  }
  return {
    ok: true,
    event: {
      id: o.id as string,
      type: o.type as string,
      aggregateType: o.aggregateType as string,
      aggregateId: o.aggregateId as string,
      occurredAt: o.occurredAt as string,
      payload: payload as Record<string, unknown>,
    },
  };
}
