/**
 * Telling "the database is unreachable" apart from "this message failed": a
 * consumer must not dead-letter its whole stream while Postgres restarts
 * (SPEC §11: broker and database failures are survived, not turned into
 * data loss). Only the first kind is recognised here; everything else is the
 * message's own failure.
 *
 * @module
 */

/** postgres.js connection errors and socket errors (`code`). */
const CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/**
 * SQLSTATEs of a server that is going away or not taking connections:
 * admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections.
 */
const SERVER_STATES = new Set(["57P01", "57P02", "57P03", "53300"]);

/**
 * True when `err` (or an error it wraps) says the database could not be
 * reached or dropped the connection, rather than refusing the work.
 *
 * @example
 * ```ts
 * import { isDatabaseUnavailable } from "./db_unavailable.ts";
 *
 * console.assert(isDatabaseUnavailable(Object.assign(new Error("x"), { code: "ECONNREFUSED" })));
 * console.assert(!isDatabaseUnavailable(Object.assign(new Error("x"), { code: "23505" })));
 * ```
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  let e = err as { code?: unknown; cause?: unknown } | null | undefined;
  for (let depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    const code = typeof e.code === "string" ? e.code : "";
    // Class 08: connection exception (08000, 08003, 08006, …).
    if (CONNECTION_CODES.has(code) || SERVER_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) {
      return true;
    }
    e = e.cause as typeof e;
  }
  return false;
}
