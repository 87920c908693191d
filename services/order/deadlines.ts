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

/**
 * How much one pass of the sweeper may do (issue #17). Under overload many
 * sagas can pass their deadline at once; a pass gives them up `batch` per
 * transaction — so it never holds many sagas locked against their replies,
 * nor one of the pool's connections for long — and at most `maxPerPass` of
 * them, oldest deadline first, before it yields to the next pass.
 */
export interface SweepBounds {
  batch: number;
  maxPerPass: number;
}

const DEFAULT_BOUNDS: SweepBounds = { batch: 10, maxPerPass: 100 };

/** Gives up on up to `bounds.maxPerPass` overdue sagas; returns how many. */
export async function sweepOverdue(
  sql: Sql,
  bounds: SweepBounds = DEFAULT_BOUNDS,
): Promise<number> {
  let swept = 0;
  while (swept < bounds.maxPerPass) {
    const n = await sweepBatch(sql, Math.min(bounds.batch, bounds.maxPerPass - swept));
    swept += n;
    if (n === 0) break;
  }
  return swept;
}

/** One transaction: gives up on up to `limit` overdue sagas. */
async function sweepBatch(sql: Sql, limit: number): Promise<number> {
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
export function startDeadlineSweeper(
  sql: Sql,
  log: Logger,
  everyMs: number,
  bounds: SweepBounds = DEFAULT_BOUNDS,
): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const loop = async () => {
    if (stopped) return;
    try {
      const n = await sweepOverdue(sql, bounds);
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
