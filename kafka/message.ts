/**
 * The message shapes our Kafka layer speaks, independent of kafkajs.
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** A record to publish. Headers are strings (trace context, event id, …). */
export interface OutgoingMessage {
  key: string | null;
  value: string | Uint8Array | null;
  headers?: Record<string, string>;
  /** Only for tests and replays that must hit one partition. */
  partition?: number;
}

/** A record as a consumer receives it. */
export interface IncomingMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Uint8Array | null;
  headers: Record<string, string>;
  timestamp: number;
}

/** kafkajs header values arrive as Buffer, string, or arrays of them. */
export function decodeHeaders(
  raw: Record<string, unknown> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const [name, v] of Object.entries(raw)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first === undefined || first === null) continue;
    out[name] = typeof first === "string"
      ? first
      : Buffer.from(first as Uint8Array).toString("utf8");
  }
  return out;
}

/** The value decoded as UTF-8 text (null for tombstones). */
export function valueText(m: IncomingMessage): string | null {
  return m.value === null ? null : new TextDecoder().decode(m.value);
}
