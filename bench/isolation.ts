/**
 * Is the saga benchmark alone with the suite it measures? (issue #16) Other
 * instances in its consumer groups take partitions — and so work and CPU —
 * from the bench's services, and a relay that already holds the replication
 * slot publishes the bench's events while the bench's own relay stands by:
 * a run beside `./dev up`'s services measured half the throughput and did
 * not notice. So before starting its suite the bench asks Kafka for the
 * members of every group its services join, Postgres whether the slot is
 * held, and `.data/run/` which `./dev up` processes run — and refuses when
 * any of them answers. During the run it watches that no member joins.
 *
 * @module
 */
import type postgres from "postgres";
import { envString } from "../kit/env.ts";
import { testKafka } from "../tests/support/kafka.ts";
import { pidFile } from "./cpu.ts";

/** The consumer groups the suite's services join (their `<P>_CONSUMER_GROUP` defaults). */
export function suiteGroups(): string[] {
  return [
    "order-service", // not configurable (services/order/main.ts)
    envString("INVENTORY_CONSUMER_GROUP", "inventory-service"),
    envString("COUPON_CONSUMER_GROUP", "coupon-service"),
    envString("POINT_CONSUMER_GROUP", "point-service"),
    envString("DEADLETTER_CONSUMER_GROUP", "deadletter-service"),
  ];
}

export interface GroupMember {
  memberId: string;
  clientId: string;
  clientHost: string;
}

/** The current members of each group (an empty list for a group nobody is in). */
export async function groupMembers(groups: string[]): Promise<Map<string, GroupMember[]>> {
  const admin = testKafka("bench-isolation").admin();
  await admin.connect();
  try {
    const { groups: described } = await admin.describeGroups(groups);
    return new Map(groups.map((g) => [
      g,
      (described.find((d) => d.groupId === g)?.members ?? []).map((m) => ({
        memberId: m.memberId,
        clientId: m.clientId,
        clientHost: m.clientHost,
      })),
    ]));
  } finally {
    await admin.disconnect();
  }
}

/** Who reads the replication slot now (a walsender's pid and application), or null. */
export async function slotHolder(
  sql: postgres.Sql,
  slot: string,
): Promise<{ pid: number; application: string } | null> {
  const [row] = await sql<{ pid: number; application: string | null }[]>`
    select s.active_pid as pid, a.application_name as application
    from pg_replication_slots s left join pg_stat_activity a on a.pid = s.active_pid
    where s.slot_name = ${slot} and s.active`;
  return row ? { pid: row.pid, application: row.application ?? "" } : null;
}

/** The `./dev up` processes that run now (their pid files in `.data/run/`). */
export function devProcesses(root: string): { name: string; pid: number }[] {
  const names = ["relay", "order", "inventory", "coupon", "point", "deadletter", "console"];
  return names.flatMap((name) => {
    const pid = pidFile(`${root}.data/run/${name}.pid`);
    return pid ? [{ name, pid }] : [];
  });
}

/** What shares the suite's groups and slot right now; empty when the bench is alone. */
export async function foreignUsers(
  sql: postgres.Sql,
  root: string,
  slot = envString("RELAY_SLOT", "outbox_relay"),
): Promise<string[]> {
  const problems: string[] = [];
  for (const [group, members] of await groupMembers(suiteGroups())) {
    if (members.length === 0) continue;
    const who = members.map((m) => `${m.clientId}@${m.clientHost}`).join(", ");
    problems.push(`consumer group ${group} has ${members.length} member(s): ${who}`);
  }
  const holder = await slotHolder(sql, slot);
  if (holder) {
    problems.push(
      `the replication slot ${slot} is held by another relay (walsender pid ${holder.pid}` +
        `${holder.application ? `, ${holder.application}` : ""}): the bench's relay would stand by`,
    );
  }
  const dev = devProcesses(root);
  if (dev.length > 0) {
    problems.push(
      `./dev up's processes run: ${dev.map((p) => `${p.name} (pid ${p.pid})`).join(", ")}`,
    );
  }
  return problems;
}

/** The refusal: what is in the way, and how to clear it. */
export function refusal(problems: string[]): string {
  return [
    "bench:saga refuses to run: it measures its own suite (relay, order ×2, inventory, coupon,",
    "point, dead letters), and other instances share its consumer groups or replication slot —",
    "they would take part of the work and its figures would be wrong:",
    ...problems.map((p) => `  - ${p}`),
    "Stop them first. `./dev up`'s processes: `./dev down` (stops everything, the",
    "infrastructure too; data stays in .data/), then `./dev infra up` (the infrastructure",
    "only), or one at a time: `kill $(cat .data/run/<name>.pid)`. A test, chaos run or",
    "another bench that runs a suite: wait until it ends. (A member of a process that was",
    "killed stays in its group until its session times out, about half a minute.)",
  ].join("\n");
}

/**
 * Watches the groups during the run: once the bench's own services have
 * joined (one member per service process), any further member is foreign.
 */
export class GroupWatch {
  #own = new Map<string, number>();

  /**
   * Waits (up to `timeoutMs`) until every group has its `expected` members,
   * remembers those as the bench's own, and lists groups that have more.
   */
  async settle(expected: Map<string, number>, timeoutMs = 30_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    let now = await groupMembers([...expected.keys()]);
    while ([...expected].some(([g, n]) => (now.get(g)?.length ?? 0) < n)) {
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
      now = await groupMembers([...expected.keys()]);
    }
    this.#own = expected;
    return this.#more(now);
  }

  /** Groups that have more members than the bench's own; empty when nobody joined. */
  async joined(): Promise<string[]> {
    return this.#more(await groupMembers([...this.#own.keys()]));
  }

  #more(now: Map<string, GroupMember[]>): string[] {
    const out: string[] = [];
    for (const [g, own] of this.#own) {
      const n = now.get(g)?.length ?? 0;
      if (n > own) out.push(`${g} has ${n} members, the bench's own are ${own}`);
    }
    return out;
  }
}
