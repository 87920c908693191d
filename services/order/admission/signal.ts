/**
 * The admission signal, read from the orders table every order instance
 * shares (policy.ts says what is decided from it). One statement, a few
 * index reads: sagas in flight and the oldest one's age, sagas that ended in
 * the window (index `orders_finished`, migration 0017), and how many order
 * instances are connected.
 *
 * "In flight" is a saga not ended whose deadline has not passed: the ones a
 * new saga queues behind. One past its deadline is the sweeper's (it is given
 * up at once, deadlines.ts); counting it would let orders stranded while no
 * order instance ran — or a participant's outage — refuse every new order
 * until they are swept, with nothing finishing to raise the measured rate.
 *
 * @module
 */
import type { Sql, Tx } from "../../../db/mod.ts";
import type { AdmissionSignal } from "./policy.ts";

/**
 * The `application_name` prefix of an order instance's main pool (main.ts):
 * how instances count each other in `pg_stat_activity`.
 */
export const INSTANCE_APP_PREFIX = "order-instance:";

export async function readAdmissionSignal(sql: Sql, windowMs: number): Promise<AdmissionSignal> {
  const [r] = await sql<
    { in_flight: number; oldest_ms: number | null; completed: number; instances: number }[]
  >`
    select w.in_flight, w.oldest_ms,
           (select count(*)::int from orders
            where finished_at > clock_timestamp() - ${windowMs} * interval '1 millisecond') as completed,
           (select count(distinct application_name)::int from pg_stat_activity
            where application_name like ${INSTANCE_APP_PREFIX + "%"}) as instances
    from (select count(*)::int as in_flight,
                 (extract(epoch from clock_timestamp() - min(created_at)) * 1000)::float8 as oldest_ms
          from orders
          where status in ('PENDING', 'COMPENSATING') and deadline_at > clock_timestamp()) w`;
  return {
    inFlight: r.in_flight,
    oldestAgeMs: Math.max(0, r.oldest_ms ?? 0),
    completedInWindow: r.completed,
    windowMs,
    instances: Math.max(1, r.instances),
  };
}

/**
 * How many sagas the user has in flight, inside the transaction that would
 * place their next order. The transaction first takes a lock of its own per
 * user (held until it ends), so two requests of one user — on any instances —
 * count one after the other and a burst cannot slip past the limit together.
 */
export async function lockedUserInFlight(tx: Tx, userId: string): Promise<number> {
  await tx`select pg_advisory_xact_lock(hashtextextended(${"order-admission:" + userId}, 0))`;
  const [r] = await tx<{ n: number }[]>`
    select count(*)::int as n from orders
    where user_id = ${userId} and status in ('PENDING', 'COMPENSATING')
      and deadline_at > clock_timestamp()`;
  return r.n;
}
