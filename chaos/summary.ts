/**
 * The chaos run's report: a readable summary, then one JSON line with the
 * counts (the last line the command prints).
 *
 * @module
 */
import type { DeadLetter } from "./kafka_audit.ts";
import { FAULT_KINDS, type FaultKind, type FaultRecord } from "./killer.ts";

export interface ChaosSummary {
  run: string;
  durationS: number;
  orders: {
    placed: number;
    completed: number;
    cancelled: number;
    probes: number;
    /** Placements no order instance accepted. */
    failed: number;
    /** Placements that needed more than one try (faults ridden out). */
    retried: number;
  };
  couponGrants: number;
  /** FCFS issue requests and their answers; the coupons stored. */
  fcfs?: {
    total: number;
    requests: number;
    issued: number;
    stored: number;
    soldOut: number;
    alreadyIssued: number;
    unavailable: number;
  };
  kills: Record<FaultKind, number>;
  /** Longest repair → probe-completed time, per kind and overall (ms). */
  recoverMaxMs: Record<FaultKind, number> & { all: number };
  drainMs: number;
  eventsInKafka: number;
  deadLetters: number;
  violations: string[];
}

export function summarize(
  records: FaultRecord[],
): Pick<ChaosSummary, "kills" | "recoverMaxMs"> {
  const kills = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const recoverMaxMs = {
    ...Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])),
    all: 0,
  } as ChaosSummary["recoverMaxMs"];
  for (const r of records) {
    kills[r.kind]++;
    recoverMaxMs[r.kind] = Math.max(recoverMaxMs[r.kind], r.recoverMs);
    recoverMaxMs.all = Math.max(recoverMaxMs.all, r.recoverMs);
  }
  return { kills, recoverMaxMs };
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The human summary: lines to print before the JSON line. */
export function formatSummary(sum: ChaosSummary, deadLetters: DeadLetter[]): string[] {
  const o = sum.orders;
  const lines = [
    "",
    `chaos run ${sum.run}: ${sum.durationS.toFixed(0)} s`,
    `  orders placed      ${o.placed} (${o.completed} completed, ${o.cancelled} cancelled; ${o.probes} of them probes; ${o.retried} needed retries; ${o.failed} never accepted)`,
    `  coupons granted    ${sum.couponGrants} during the run (admin API)`,
    ...(sum.fcfs
      ? [
        `  FCFS campaign      ${sum.fcfs.requests} issue requests: ${sum.fcfs.issued} issued, ${sum.fcfs.soldOut} sold out, ${sum.fcfs.alreadyIssued} already issued, ${sum.fcfs.unavailable} unavailable; ${sum.fcfs.stored} of ${sum.fcfs.total} stored`,
      ]
      : []),
    `  kills              ${FAULT_KINDS.map((k) => `${k} ${sum.kills[k]}`).join(", ")}`,
    `  longest recovery   ${s(sum.recoverMaxMs.all)} (${
      FAULT_KINDS.filter((k) => sum.kills[k] > 0).map((k) => `${k} ${s(sum.recoverMaxMs[k])}`)
        .join(", ")
    })`,
    `  drained in         ${s(sum.drainMs)} after the load stopped`,
    `  events in Kafka    ${sum.eventsInKafka} of the run, read_committed`,
    `  dead letters       ${sum.deadLetters}`,
  ];
  for (const d of deadLetters.slice(0, 10)) {
    lines.push(`    ${d.topic}: ${d.reason} ${d.eventType} ${d.eventId} ${d.consumer} ${d.error}`);
  }
  if (sum.violations.length === 0) lines.push("  violations         none");
  else {
    lines.push(`  VIOLATIONS         ${sum.violations.length}`);
    for (const v of sum.violations) lines.push(`    - ${v}`);
  }
  return lines;
}

/** The last line: the counts as one JSON object. */
export function jsonLine(sum: ChaosSummary): string {
  return JSON.stringify({
    run: sum.run,
    duration_s: Math.round(sum.durationS),
    orders: sum.orders.placed,
    completed: sum.orders.completed,
    cancelled: sum.orders.cancelled,
    coupon_grants: sum.couponGrants,
    fcfs_requests: sum.fcfs?.requests ?? 0,
    fcfs_issued: sum.fcfs?.stored ?? 0,
    fcfs_total: sum.fcfs?.total ?? 0,
    kills: sum.kills,
    recover_max_ms: sum.recoverMaxMs.all,
    drain_ms: sum.drainMs,
    events_in_kafka: sum.eventsInKafka,
    dead_letters: sum.deadLetters,
    violations: sum.violations.length,
  });
}
