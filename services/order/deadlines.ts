/**
 * The deadline sweeper: a saga whose steps have not all replied by its
 * deadline is given up — waiting steps count as failed, what succeeded is
 * undone, the order is cancelled (issue #5). Every instance sweeps; `skip
 * locked` keeps two instances off the same order.
 *
 * @module
 */
import { inTransaction } from "../../db/after_commit.ts";
import type { Sql } from "../../db/mod.ts";
import type { Logger } from "../../kit/log.ts";
import { contextFromHeaders, inSpan } from "../../kit/tracing.ts";
import { applyToSaga } from "./saga_runner.ts";
import { lockOverdue } from "./store.ts";

/** Gives up on up to `limit` overdue sagas; returns how many. */
export async function sweepOverdue(sql: Sql, limit = 100): Promise<number> {
  return await inTransaction(sql, async (tx) => {
    const overdue = await lockOverdue(tx, limit);
    for (const order of overdue) {
      // The give-up and its undo requests continue the saga's trace: the
      // context the order was placed in, from its OrderPlaced outbox row.
      const [placed] = await tx<{ tp: string | null }[]>`
        select headers->>'traceparent' as tp from outbox
        where aggregate_type = 'order' and aggregate_id = ${order.id} and event_type = 'OrderPlaced'
        limit 1`;
      await inSpan("saga deadline passed", {
        parent: contextFromHeaders(placed?.tp ? { traceparent: placed.tp } : {}),
        attributes: { "order.id": order.id },
      }, () => applyToSaga(tx, order.id, { type: "deadline" }));
    }
    return overdue.length;
  });
}

/** Sweeps every `everyMs` until the returned stop function is called. */
export function startDeadlineSweeper(sql: Sql, log: Logger, everyMs: number): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const loop = async () => {
    if (stopped) return;
    try {
      const n = await sweepOverdue(sql);
      if (n > 0) log.info("sagas past their deadline given up", { count: n });
    } catch (err) {
      log.warn("deadline sweep failed", { error: err as Error });
    }
    if (!stopped) timer = setTimeout(loop, everyMs);
  };
  timer = setTimeout(loop, everyMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
