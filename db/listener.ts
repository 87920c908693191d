/**
 * A LISTEN that lasts: one connection of its own, LISTENing on one channel,
 * that listens again whenever the connection is lost (Postgres restarted,
 * the backend terminated), retrying until Postgres answers.
 *
 * Why not postgres.js' `sql.listen`: it re-listens once when its connection
 * closes and, if that attempt fails (Postgres still down), drops the
 * listener for good — a notifier would go deaf after a Postgres restart.
 *
 * Notifications sent while nobody listened are lost (Postgres keeps none for
 * later sessions), so `onListening` runs after every LISTEN that follows a
 * lost connection (`again` = true): the place to catch up from the tables.
 *
 * @module
 */
import { connectService, type Sql } from "./connect.ts";
import type { DbRole } from "./roles.ts";

export interface ListenHandlers {
  /** Each notification's payload, in commit order. */
  onNotify(payload: string): void;
  /** After each successful LISTEN; `again` after a lost connection. */
  onListening(again: boolean): void | Promise<void>;
  /** A failed LISTEN attempt or catch-up (retried). */
  onError?(err: unknown): void;
}

export interface Listener {
  close(): Promise<void>;
}

const CHANNEL = /^[a-z_][a-z0-9_]*$/;

/**
 * LISTENs on `channel` as `role`; resolves once the first LISTEN holds.
 * `applicationName` names the connection in pg_stat_activity.
 */
export async function listenChannel(
  role: DbRole,
  channel: string,
  handlers: ListenHandlers,
  opts: { applicationName?: string; retryMs?: number } = {},
): Promise<Listener> {
  if (!CHANNEL.test(channel)) throw new TypeError(`listenChannel(): bad channel name ${channel}`);
  const retryMs = opts.retryMs ?? 250;
  let closed = false;
  /** Set when the connection closed: a LISTEN (again) is due. */
  let lost = true;
  let first = true;
  let loop: Promise<void> | null = null;
  let wake: (() => void) | null = null;

  const sql: Sql = connectService(role, {
    max: 1,
    applicationName: opts.applicationName,
    notifications: {
      onNotify: (c, payload) => {
        if (c === channel) handlers.onNotify(payload);
      },
      onClose: () => {
        if (closed) return;
        lost = true;
        relisten();
      },
    },
  });

  const pause = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => (wake = null, resolve()), retryMs);
      wake = () => (clearTimeout(timer), resolve());
    });

  function relisten(): Promise<void> {
    loop ??= (async () => {
      while (lost && !closed) {
        lost = false;
        try {
          await sql.unsafe(`listen ${channel}`);
          const again = !first;
          first = false;
          await handlers.onListening(again);
        } catch (err) {
          if (closed) return;
          handlers.onError?.(err);
          lost = true;
          await pause();
        }
      }
    })().finally(() => (loop = null));
    return loop;
  }

  await relisten();
  return {
    async close() {
      closed = true;
      wake?.();
      await loop;
      await sql.end({ timeout: 1 });
    },
  };
}
