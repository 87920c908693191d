/**
 * One chaos run (issue #7): starts the suite's processes (relay, two order
 * instances, inventory, coupon, point), seeds a world, runs the steady load
 * while the killer works through its schedule, lets everything drain, then
 * checks the invariants and Kafka. Infrastructure is left up and healthy
 * whatever happens (finally-block).
 *
 * @module
 */
import type postgres from "postgres";
import { connectAdmin } from "../db/mod.ts";
import { sleep } from "../tests/support/dev.ts";
import { Suite } from "../tests/support/suite.ts";
import { checkInvariants, drain, runEvents } from "./checks.ts";
import { checkFcfs, createCampaign, type Fcfs, issuedEvents, runFcfs } from "./fcfs.ts";
import { auditedTopics, auditKafka, type DeadLetter, endOffsets } from "./kafka_audit.ts";
import { ensureInfraUp, Killer, schedule, waitFullIsr } from "./killer.ts";
import { type PlacedOrder, runLoad } from "./load.ts";
import type { ChaosOptions } from "./options.ts";
import { type ChaosSummary, summarize } from "./summary.ts";
import { seedWorld } from "./world.ts";

const ROOT = new URL("../", import.meta.url).pathname;

export interface ChaosResult {
  summary: ChaosSummary;
  deadLetters: DeadLetter[];
  /** Where the processes' last output was written. */
  logFile: string;
}

function fcfsSummary(f: Fcfs, stored: number): ChaosSummary["fcfs"] {
  return {
    total: f.total,
    requests: f.requests,
    issued: f.issued.size,
    stored,
    soldOut: f.soldOut,
    alreadyIssued: f.alreadyIssued,
    unavailable: f.unavailable,
  };
}

async function issuedCount(sql: postgres.Sql, f: Fcfs): Promise<number> {
  const [{ n }] = await sql<{ n: number }[]>`
    select count(*)::int as n from coupons.coupons where campaign_id = ${f.campaignId}`;
  return n;
}

export async function runChaos(
  opts: ChaosOptions,
  log: (s: string) => void = console.log,
): Promise<ChaosResult> {
  const t0 = Date.now();
  const out = log;
  log = (s: string) => out(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${s}`);
  const violations: string[] = [];
  const summary: ChaosSummary = {
    run: "",
    durationS: 0,
    orders: { placed: 0, completed: 0, cancelled: 0, probes: 0, failed: 0, retried: 0 },
    couponGrants: 0,
    ...summarize([]),
    drainMs: 0,
    eventsInKafka: 0,
    deadLetters: 0,
    violations,
  };
  let deadLetters: DeadLetter[] = [];
  const logDir = `${Deno.env.get("DATA_DIR") ?? `${ROOT}.data`}/logs`;
  let logFile = `${logDir}/chaos.log`;
  const suite = new Suite({ sagaDeadlineMs: opts.sagaDeadlineMs });
  try {
    log("chaos: waiting for a healthy cluster, starting relay, 2 order instances, participants");
    if (!await waitFullIsr(120_000)) log("  warn: not every partition has all replicas in sync");
    await suite.start();
    await sleep(2_000);
    const relay = await suite.relay.get<{ state?: string }>("/health");
    if (relay?.state !== "active") {
      log(`  warn: our relay is ${relay?.state}: another relay holds the slot (./dev up?)`);
    }
    const world = await seedWorld(
      suite,
      opts.users,
      Math.max(60, opts.ratePerS * opts.durationS / 4),
    );
    summary.run = world.run;
    logFile = `${logDir}/chaos-${world.run}.log`;
    const fcfs = opts.fcfsRatePerS > 0
      ? await createCampaign(suite, world, opts.fcfsTotal, (opts.durationS + 3_600) * 1_000)
      : undefined;
    const topics = await auditedTopics();
    const start = await endOffsets([...topics.events, ...topics.dlqs]);

    const plan = { ...opts };
    const faults = schedule(plan);
    const spacingMs = (opts.durationS * 1_000) / Math.max(1, faults.length);
    log(
      `chaos run ${world.run}: ${opts.durationS} s of load at ${opts.ratePerS} orders/s, ${faults.length} faults about every ${
        (spacingMs / 1000).toFixed(0)
      } s: ${faults.join(" ")}`,
    );
    const runStart = Date.now();
    const stopLoad = new AbortController();
    const load = runLoad(suite, world, opts, stopLoad.signal);
    const fcfsPlaced: PlacedOrder[] = [];
    const fcfsFailed: string[] = [];
    const fcfsLoad = fcfs
      ? runFcfs(suite, world, fcfs, opts.fcfsRatePerS, stopLoad.signal, fcfsPlaced, fcfsFailed)
      : Promise.resolve();
    const killer = new Killer(suite, world, plan, runStart, log);
    await Promise.all([
      killer.run(faults, spacingMs, new AbortController().signal),
      sleep(opts.durationS * 1_000),
    ]);
    stopLoad.abort();
    const stats = await load;
    await fcfsLoad;
    stats.placed.push(...fcfsPlaced);
    stats.failed.push(...fcfsFailed);
    log(`  load stopped after ${((Date.now() - runStart) / 1000).toFixed(0)} s; draining`);

    // A process that died or hangs by itself (not killed by us) must show.
    for (const p of suite.all) {
      await p.ready(30_000).catch(() =>
        violations.push(`${p.name} does not answer /health at the end of the run`)
      );
    }
    for (const r of killer.records.filter((r) => !r.ok)) {
      violations.push(`${r.kind} ${r.target} at ${r.atS.toFixed(0)} s: ${r.note}`);
    }
    if (stats.failed.length) {
      violations.push(`${stats.failed.length} orders never accepted, e.g. ${stats.failed[0]}`);
    }
    if (stats.couponGrantFailures.length) {
      violations.push(
        `${stats.couponGrantFailures.length} coupon grants failed, e.g. ${
          stats.couponGrantFailures[0]
        }`,
      );
    }
    Object.assign(summary, summarize(killer.records));
    summary.couponGrants = stats.couponGrants;

    // A fresh pool: one opened before the Postgres restart may hang (porsager/postgres#1208).
    const sql = connectAdmin({ max: 4 });
    try {
      const drained = await drain(sql, world.prefix, opts.drainTimeoutS * 1_000, log);
      summary.drainMs = drained.ms;
      violations.push(...drained.violations);
      const granted = new Map(world.users.map((u) => [u.client.userId, u.granted]));
      granted.set(world.probe.client.userId, world.probe.granted);
      violations.push(
        ...await checkInvariants(sql, { prefix: world.prefix, products: world.products, granted }),
      );
      const [counts] = await sql`
        select count(*)::int as placed,
               count(*) filter (where status = 'COMPLETED')::int as completed,
               count(*) filter (where status = 'CANCELLED')::int as cancelled
        from orders.orders where user_id like ${world.prefix + "-%"}`;
      const accepted = stats.placed.length + killer.probes.length;
      if (counts.placed !== accepted) {
        violations.push(`${accepted} orders accepted but ${counts.placed} stored`);
      }
      summary.orders = {
        placed: counts.placed,
        completed: counts.completed,
        cancelled: counts.cancelled,
        probes: killer.probes.length,
        failed: stats.failed.length,
        retried: [...stats.placed, ...killer.probes].filter((p) => p.attempts > 1).length,
      };
      if (fcfs) {
        violations.push(...await checkFcfs(sql, suite, world, fcfs));
        summary.fcfs = fcfsSummary(fcfs, await issuedCount(sql, fcfs));
      }
      log(`  drained in ${(drained.ms / 1000).toFixed(1)} s; reading Kafka back`);
      const events = await runEvents(sql, world.prefix);
      if (fcfs) events.push(...await issuedEvents(sql, fcfs));
      const audit = await auditKafka(start, events, 120_000);
      violations.push(...audit.violations);
      summary.eventsInKafka = audit.published;
      summary.deadLetters = audit.deadLetters.length;
      deadLetters = audit.deadLetters;
      log(`  read ${audit.published} events of the run back from Kafka`);
    } finally {
      await sql.end({ timeout: 5 }).catch(() => {});
    }
  } catch (err) {
    violations.push(`the run failed: ${(err as Error).stack ?? err}`);
  } finally {
    log("stopping the suite's processes; checking the infrastructure is up");
    await suite.stop().catch(() => {});
    await Deno.mkdir(logDir, { recursive: true }).catch(() => {});
    await Deno.writeTextFile(logFile, suite.logs()).catch(() => {});
    await ensureInfraUp(log);
    if (!await waitFullIsr(120_000)) log("  warn: replicas not all in sync after the run");
    summary.durationS = (Date.now() - t0) / 1000;
  }
  return { summary, deadLetters, logFile };
}
