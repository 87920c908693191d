/**
 * Statements the services send to Postgres, counted by `pg_stat_statements`
 * (migration 0015) per role and per normalised query, as the difference of
 * two snapshots — never a reset, which would spoil the window of anyone else
 * counting on the same server (bench/statements.ts resets; this does not).
 * BEGIN and COMMIT count: each is a statement the server parses and answers.
 * The superuser's own statements (these snapshots, polling) are left out.
 *
 * @module
 */
import type { Sql } from "../../db/mod.ts";

/** Calls so far, by `role\tquery`. */
export type StatementSnapshot = Map<string, number>;

/**
 * What pg_stat_statements has counted so far (read as the superuser), in
 * every database, or with `thisDatabaseOnly` in `admin`'s database alone (a
 * scratch database's count is nobody else's).
 */
export async function snapshotStatements(
  admin: Sql,
  opts: { thisDatabaseOnly?: boolean } = {},
): Promise<StatementSnapshot> {
  const only = opts.thisDatabaseOnly ?? false;
  const rows = await admin<{ role: string; query: string; calls: number }[]>`
    select r.rolname as role, s.query, sum(s.calls)::float8 as calls
    from pg_stat_statements s join pg_roles r on r.oid = s.userid
    where r.rolname <> current_user
      and (not ${only} or s.dbid = (select oid from pg_database where datname = current_database()))
    group by 1, 2`;
  return new Map(rows.map((r) => [`${r.role}\t${r.query}`, r.calls]));
}

/** One query's calls between two snapshots. */
export interface StatementCount {
  role: string;
  query: string;
  calls: number;
}

/** The calls made between `before` and `after`, most first. */
export function statementsBetween(
  before: StatementSnapshot,
  after: StatementSnapshot,
): StatementCount[] {
  const counts: StatementCount[] = [];
  for (const [key, calls] of after) {
    const delta = calls - (before.get(key) ?? 0);
    if (delta <= 0) continue;
    const tab = key.indexOf("\t");
    counts.push({ role: key.slice(0, tab), query: key.slice(tab + 1), calls: delta });
  }
  return counts.sort((a, b) => b.calls - a.calls);
}

/** Sums of `counts` per role. */
export function callsByRole(counts: StatementCount[]): Record<string, number> {
  const byRole: Record<string, number> = {};
  for (const c of counts) byRole[c.role] = (byRole[c.role] ?? 0) + c.calls;
  return byRole;
}

/**
 * The statements `role` sent while `fn` ran, in `admin`'s database alone,
 * BEGIN and COMMIT left out (pg_stat_statements does not count postgres.js'
 * COMMITs reliably): one line of query text per call, for a test's message.
 * Meant for a scratch database (db/testing.ts withScratchDatabase), where
 * nobody else's statements run.
 */
export async function statementsOf(
  admin: Sql,
  role: string,
  fn: () => Promise<unknown>,
): Promise<string[]> {
  const before = await snapshotStatements(admin, { thisDatabaseOnly: true });
  await fn();
  const after = await snapshotStatements(admin, { thisDatabaseOnly: true });
  return statementsBetween(before, after)
    .filter((c) => c.role === role && !/^\s*(begin|commit)\b/i.test(c.query))
    .flatMap((c) => Array(c.calls).fill(c.query.replace(/\s+/g, " ").slice(0, 80)));
}
