/**
 * Re-sending dead letters to their original topic and partition, with their
 * original key, value and headers (SPEC §9.2): one on an operator's request,
 * every PENDING one on request or every DEADLETTER_REPLAY_INTERVAL_MS. The
 * send happens while the row is locked, and the row is marked REPLAYED in the
 * same transaction: a crash between the two re-sends it once more, which the
 * consumers' inboxes turn into a no-op (they dedupe by event id).
 *
 * @module
 */
import { replayMessage } from "../domain/dead_letter.ts";
import { type DeadLetter, lockDeadLetter, lockPending, markReplayed } from "../store.ts";
import type { DeadLetterDeps } from "./deps.ts";

/** Why a dead letter cannot be replayed (the HTTP layer makes a 409 of it). */
export class NotReplayableError extends Error {
  override name = "NotReplayableError";
}

async function send(deps: DeadLetterDeps, letters: DeadLetter[]): Promise<void> {
  const now = new Date();
  const byTopic = new Map<string, ReturnType<typeof replayMessage>[]>();
  for (const l of letters) {
    const list = byTopic.get(l.originalTopic) ?? [];
    list.push(replayMessage(l, now));
    byTopic.set(l.originalTopic, list);
  }
  await deps.producer.send(...[...byTopic].map(([topic, messages]) => ({ topic, messages })));
}

/** Re-sends one dead letter now, whatever its retry count; null if unknown. */
export function replayOne(
  deps: DeadLetterDeps,
  id: string,
  trigger: string,
): Promise<DeadLetter | null> {
  return deps.sql.begin(async (tx) => {
    const letter = await lockDeadLetter(tx, id);
    if (!letter) return null;
    if (letter.status === "RESOLVED") {
      throw new NotReplayableError(`dead letter ${id} is resolved; nothing is re-sent`);
    }
    if (letter.source === "relay") {
      throw new NotReplayableError(
        `dead letter ${id} is the relay's report on an outbox row it could not publish: ` +
          `fix the row, then \`deno task replay --event ${letter.eventId ?? "<event id>"}\``,
      );
    }
    await send(deps, [letter]);
    const replayed = await markReplayed(tx, id, trigger);
    deps.metrics.replayed.inc({ topic: letter.originalTopic, trigger: "manual" });
    deps.log.info("dead letter replayed", {
      dead_letter_id: id,
      topic: letter.originalTopic,
      event_id: letter.eventId,
      replays: replayed.replays,
      by: trigger,
    });
    return replayed;
  }) as Promise<DeadLetter | null>;
}

/** Re-sends every PENDING (retryable) dead letter, `batch` at a time; their ids. */
export async function replayPending(
  deps: DeadLetterDeps,
  opts: { topic?: string; limit?: number; trigger: string; batch?: number },
): Promise<string[]> {
  const ids: string[] = [];
  const limit = opts.limit ?? Number.MAX_SAFE_INTEGER;
  while (ids.length < limit) {
    const done = await deps.sql.begin(async (tx) => {
      const letters = await lockPending(tx, {
        topic: opts.topic,
        limit: Math.min(opts.batch ?? 100, limit - ids.length),
      });
      if (letters.length === 0) return true;
      await send(deps, letters);
      for (const l of letters) {
        await markReplayed(tx, l.id, opts.trigger);
        deps.metrics.replayed.inc({
          topic: l.originalTopic,
          trigger: opts.trigger === "periodic" ? "periodic" : "manual",
        });
        ids.push(l.id);
      }
      return false;
    });
    if (done) break;
  }
  if (ids.length > 0) {
    deps.log.info("dead letters replayed", { count: ids.length, ids, by: opts.trigger });
  }
  return ids;
}

/**
 * Every `intervalMs`, re-sends the PENDING dead letters (SPEC §9.2: every
 * 5 minutes), of one original topic if given. Returns a stop function. A
 * failing round (Kafka or Postgres down) is logged and tried again next time.
 */
export function startPeriodicReplay(
  deps: DeadLetterDeps,
  intervalMs: number,
  opts: { topic?: string } = {},
): () => Promise<void> {
  if (intervalMs <= 0) return () => Promise.resolve();
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() =>
      replayPending(deps, { trigger: "periodic", topic: opts.topic }).catch((err) =>
        deps.log.error("periodic replay failed; trying again next round", { error: err })
      )
    );
  }, intervalMs);
  return async () => {
    clearInterval(timer);
    await running;
  };
}
