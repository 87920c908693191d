/**
 * Producer-side validation (issue 18 item 3): an event of a type in the
 * catalog must have its contract's topic, its key must be the payload's key
 * field, and its payload must match its schema — checked before the outbox
 * row is written, so a producer's mistake throws in its own transaction
 * (and in its tests) instead of reaching every consumer's dead-letter topic.
 * Types outside the catalog (tests' own) are only checked as plain JSON by
 * db/outbox.ts.
 *
 * @module
 */
import { contractOf } from "./catalog.ts";

/** The parts of an outbox event a contract speaks about. */
export interface ContractedEvent {
  eventType: string;
  topic: string;
  key: string;
  payload: object;
}

/** Why `event` breaks its type's contract, or undefined when it does not (or has none). */
export function contractProblem(event: ContractedEvent): string | undefined {
  const contract = contractOf(event.eventType);
  if (!contract) return undefined;
  if (event.topic !== contract.topic) {
    return `${event.eventType} goes on ${contract.topic}, not ${event.topic}`;
  }
  const parsed = contract.schema.safeParse(event.payload);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `payload${i.path.map((p) => `.${String(p)}`).join("")}: ${i.message}`)
      .join("; ");
    return `${event.eventType} does not match its schema: ${problems}`;
  }
  const key = (event.payload as Record<string, unknown>)[contract.keyField];
  if (event.key !== key) {
    return `${event.eventType} is keyed by its ${contract.keyField} (${JSON.stringify(key)}), not ${
      JSON.stringify(event.key)
    }`;
  }
  return undefined;
}
