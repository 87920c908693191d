/**
 * Statements the suite sent to Postgres over a window, from
 * `pg_stat_statements` (preloaded by infra/postgres.sh, created by migration
 * 0015) — the saga benchmark's `statements_per_saga` (issue #16). BEGIN and
 * COMMIT count (pipelined or not, each is a statement the server parses and
 * answers). The bench's own queries run as the superuser and are left out.
 *
 * @module
 */
import type postgres from "postgres";

/** Starts a window: forgets every statement counted so far (superuser only). */
export async function resetStatements(sql: postgres.Sql): Promise<void> {
  await sql`select pg_stat_statements_reset()`;
}

/** Statements executed since the reset, in all and per role (the services' own logins). */
export async function statementsSinceReset(
  sql: postgres.Sql,
): Promise<{ total: number; byRole: Record<string, number> }> {
  const rows = await sql<{ role: string; calls: number }[]>`
    select r.rolname as role, sum(s.calls)::float8 as calls
    from pg_stat_statements s join pg_roles r on r.oid = s.userid
    where r.rolname <> current_user
    group by r.rolname order by 2 desc`;
  const byRole = Object.fromEntries(rows.map((r) => [r.role, r.calls]));
  return { total: rows.reduce((n, r) => n + r.calls, 0), byRole };
}
