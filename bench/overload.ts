/**
 * `deno task bench:overload` (run it as `./dev deno task bench:overload`):
 * issue #17's benchmark of admission control, on its own suite
 * (tests/support/suite.ts: a relay, two order instances, inventory, coupon,
 * point, dead letters), like bench:saga — and, like it, it refuses to run
 * while other instances share the suite's consumer groups or replication
 * slot (bench/isolation.ts; BENCH_ISOLATION=off runs anyway, marked
 * `isolated: false`).
 *
 *  1. capacity: a closed load (BENCH_CLOSED_CLIENTS clients, each places an
 *     order and waits for its end; a refusal waits its Retry-After) for
 *     BENCH_CAPACITY_SECONDS after BENCH_WARMUP_SECONDS → sagas ended per s;
 *  2. overload: an open load — a fixed arrival rate, not waiting for answers
 *     — of BENCH_OVERLOAD_FACTOR (2) × capacity for BENCH_OVERLOAD_SECONDS (60);
 *  3. recovery: 0.5 × capacity for BENCH_RECOVERY_SECONDS (30).
 *
 * Open-load orders come from BENCH_USERS users in turn (one product with
 * ample stock: every cancellation is the deadline's, or admission failed).
 * Outcomes are read from the database afterwards (created_at → finished_at).
 * `deadline_cancellations` counts the open phases' accepted orders (the
 * closed phase's warm-up is the services joining their consumer groups).
 * `goodput_per_s`: orders of the overload phase accepted and COMPLETED, or
 * CANCELLED for a business reason, within the deadline, per second of the
 * phase. `recovery_s`: seconds after the overload ends until every later
 * second's orders have a p95 completion time within 1.5 × (or 100 ms of) the
 * p95 of the recovery phase's last 10 s. The last line printed is one JSON
 * object with the figures, the targets and whether each is met.
 *
 * @module
 */
import { connectAdmin } from "../db/mod.ts";
import { envBool, envInt } from "../kit/env.ts";
import { Client, Suite } from "../tests/support/suite.ts";
import { foreignUsers, refusal } from "./isolation.ts";
import { nowMs, percentile, round, sleep, table } from "./support.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const cfg = {
  deadlineMs: envInt("BENCH_DEADLINE_MS", 15_000, 500),
  closedClients: envInt("BENCH_CLOSED_CLIENTS", 64, 1, 2_000),
  warmupSeconds: envInt("BENCH_WARMUP_SECONDS", 5, 0, 600),
  capacitySeconds: envInt("BENCH_CAPACITY_SECONDS", 20, 1, 3_600),
  overloadFactor: envInt("BENCH_OVERLOAD_FACTOR", 2, 1, 100),
  overloadSeconds: envInt("BENCH_OVERLOAD_SECONDS", 60, 1, 3_600),
  recoverySeconds: envInt("BENCH_RECOVERY_SECONDS", 30, 1, 3_600),
  users: envInt("BENCH_USERS", 500, 1, 100_000),
  isolation: envBool("BENCH_ISOLATION", true),
};
const log = (s: string) => console.log(`[overload] ${s}`);

/** One request of the load and its answer. */
interface Sent {
  phase: "capacity" | "overload" | "recovery";
  at: number;
  status: number;
  httpMs: number;
  orderId?: string;
}

const run = crypto.randomUUID().slice(0, 8);
const prefix = `ovl-${run}-`;
const productId = `overload-${run}`;
const db = connectAdmin({ max: 2 });
const suite = new Suite({ sagaDeadlineMs: cfg.deadlineMs });
const sent: Sent[] = [];

async function post(client: Client, phase: Sent["phase"]): Promise<Sent> {
  const at = nowMs();
  const res = await client.call<{ orderId?: string }>(
    suite.orders[sent.length % suite.orders.length],
    "POST",
    "/orders",
    { items: [{ productId, quantity: 1 }] },
  ).catch(() => ({ status: 0, body: {} as { orderId?: string } }));
  const s = { phase, at, status: res.status, httpMs: nowMs() - at, orderId: res.body.orderId };
  sent.push(s);
  return s;
}

/** Resolves when the order has ended (polled in the database). */
async function ended(orderId: string, timeoutMs: number): Promise<void> {
  const until = nowMs() + timeoutMs;
  while (nowMs() < until) {
    const [o] = await db<{ status: string }[]>`
      select status from orders.orders where id = ${orderId}`;
    if (o && (o.status === "COMPLETED" || o.status === "CANCELLED")) return;
    await sleep(50);
  }
}

/** Phase 1: a closed load; returns sagas ended per second after the warm-up. */
async function measureCapacity(): Promise<number> {
  const stopAt = nowMs() + (cfg.warmupSeconds + cfg.capacitySeconds) * 1000;
  const from = new Date(Date.now() + cfg.warmupSeconds * 1000);
  await Promise.all(Array.from({ length: cfg.closedClients }, async (_, i) => {
    const client = new Client(`${prefix}closed-${i}`);
    while (nowMs() < stopAt) {
      const s = await post(client, "capacity");
      if (s.orderId) await ended(s.orderId, cfg.deadlineMs + 5_000);
      else await sleep(1_000); // a refusal's Retry-After is at least 1 s
    }
  }));
  const to = new Date();
  const [{ n }] = await db<{ n: number }[]>`
    select count(*)::int as n from orders.orders
    where user_id like ${prefix + "closed-%"} and finished_at between ${from} and ${to}`;
  return n / ((to.getTime() - from.getTime()) / 1000);
}

/** Phases 2 and 3: an open load of `perS` arrivals per second for `seconds`. */
async function openLoad(phase: Sent["phase"], perS: number, seconds: number, users: Client[]) {
  const answers: Promise<Sent>[] = [];
  const start = nowMs();
  for (let n = 0; nowMs() - start < seconds * 1000; n++) {
    const wait = start + n * 1000 / perS - nowMs();
    if (wait > 1) await sleep(wait);
    answers.push(post(users[n % users.length], phase));
  }
  await Promise.all(answers);
}

interface Outcome {
  id: string;
  status: string;
  reason: string | null;
  ms: number | null;
}

async function outcomes(): Promise<Map<string, Outcome>> {
  const until = nowMs() + cfg.deadlineMs + 60_000;
  while (nowMs() < until) {
    const [{ n }] = await db<{ n: number }[]>`
      select count(*)::int as n from orders.orders
      where user_id like ${prefix + "%"} and status in ('PENDING', 'COMPENSATING')`;
    if (n === 0) break;
    await sleep(500);
  }
  const rows = await db<Outcome[]>`
    select id, status, reason,
           (extract(epoch from finished_at - created_at) * 1000)::float8 as ms
    from orders.orders where user_id like ${prefix + "%"}`;
  return new Map(rows.map((r) => [r.id, r]));
}

/** Seconds after `from` until every later 1-s bucket's p95 is back to normal. */
function recoverySeconds(orders: { at: number; ms: number }[], from: number, normal: number) {
  const buckets = new Map<number, number[]>();
  for (const o of orders) {
    const b = Math.floor((o.at - from) / 1000);
    if (b >= 0) buckets.set(b, [...(buckets.get(b) ?? []), o.ms]);
  }
  const bound = Math.max(normal * 1.5, normal + 100);
  const last = Math.max(-1, ...buckets.keys());
  let recovered = 0;
  for (let b = 0; b <= last; b++) {
    const ms = (buckets.get(b) ?? []).sort((x, y) => x - y);
    if (ms.length > 0 && percentile(ms, 95) > bound) recovered = b + 1;
  }
  return recovered;
}

const byIdStatus = (rows: { status: string }[]) => rows[0]?.status;

let exitCode = 0;
const problems = cfg.isolation ? await foreignUsers(db, ROOT) : [];
if (problems.length > 0) {
  console.error(refusal(problems).replace("bench:saga", "bench:overload"));
  await db.end();
  Deno.exit(2);
}
try {
  log(`starting the suite (saga deadline ${cfg.deadlineMs} ms)`);
  await suite.start();
  const admin = Client.admin();
  const made = await admin.call(suite.inventory, "POST", "/products", {
    id: productId,
    name: "overload",
    price: 100,
    stock: 100_000_000,
  });
  if (made.status !== 201) throw new Error(`product: ${JSON.stringify(made.body)}`);

  // The services' consumers take a few seconds to join their groups: the
  // load starts once a saga went through.
  const warm = new Client(`${prefix}warm`);
  for (let done = false; !done;) {
    const s = await post(warm, "capacity");
    if (s.orderId) {
      await ended(s.orderId, cfg.deadlineMs + 5_000);
      done = byIdStatus(
        await db<{ status: string }[]>`
        select status from orders.orders where id = ${s.orderId}`,
      ) === "COMPLETED";
    } else await sleep(1_000);
  }
  sent.length = 0;
  log(`capacity: ${cfg.closedClients} closed clients, ${cfg.capacitySeconds} s`);
  const capacity = await measureCapacity();
  const offered = capacity * cfg.overloadFactor;
  log(`capacity ${round(capacity)} sagas/s; offering ${round(offered)}/s`);
  const users = Array.from({ length: cfg.users }, (_, i) => new Client(`${prefix}open-${i}`));
  await Promise.all(users.map((u) => u.token()));
  const overloadStart = nowMs();
  await openLoad("overload", offered, cfg.overloadSeconds, users);
  const recoveryStart = nowMs();
  await openLoad("recovery", capacity / 2, cfg.recoverySeconds, users);
  const phaseEnd = nowMs();
  log("waiting for every accepted order to end");
  const byId = await outcomes();

  const deadlineCancelled = (o?: Outcome) => o?.reason === "deadline passed";
  const rows: (string | number)[][] = [[
    "phase",
    "offered/s",
    "accepted",
    "503",
    "429",
    "deadline-cancelled",
    "p50 ms",
    "p99 ms",
    "refusal p99 ms",
  ]];
  for (const phase of ["capacity", "overload", "recovery"] as const) {
    const mine = sent.filter((s) => s.phase === phase);
    const acc = mine.filter((s) => s.status === 202).map((s) => byId.get(s.orderId!));
    const ms = acc.flatMap((o) => (o?.ms == null ? [] : [o.ms])).sort((a, b) => a - b);
    const ref = mine.filter((s) => s.status === 503 || s.status === 429).map((s) => s.httpMs)
      .sort((a, b) => a - b);
    const span = phase === "overload"
      ? recoveryStart - overloadStart
      : phase === "recovery"
      ? phaseEnd - recoveryStart
      : (cfg.warmupSeconds + cfg.capacitySeconds) * 1000;
    rows.push([
      phase,
      round(mine.length / (span / 1000)),
      acc.length,
      mine.filter((s) => s.status === 503).length,
      mine.filter((s) => s.status === 429).length,
      acc.filter(deadlineCancelled).length,
      round(percentile(ms, 50)),
      round(percentile(ms, 99)),
      round(percentile(ref, 99)),
    ]);
  }
  console.log(table(rows));

  const open = sent.filter((s) => s.phase !== "capacity");
  const accepted = open.filter((s) => s.status === 202);
  const outcome = (s: Sent) => byId.get(s.orderId!);
  const good = sent.filter((s) => s.phase === "overload" && s.status === 202).filter((s) => {
    const o = outcome(s);
    return o && o.ms !== null && o.ms <= cfg.deadlineMs && !deadlineCancelled(o);
  });
  const completionMs = accepted.flatMap((s) => outcome(s)?.ms ?? []).sort((a, b) => a - b);
  const refusalMs = open.filter((s) => s.status === 503 || s.status === 429).map((s) => s.httpMs)
    .sort((a, b) => a - b);
  const recoveryOrders = sent.filter((s) => s.phase === "recovery" && s.status === 202)
    .flatMap((s) => (outcome(s)?.ms == null ? [] : [{ at: s.at, ms: outcome(s)!.ms! }]));
  const tail = recoveryOrders.filter((o) => o.at >= phaseEnd - 10_000).map((o) => o.ms)
    .sort((a, b) => a - b);
  const figures = {
    capacity_sagas_per_s: round(capacity),
    offered_per_s: round(offered),
    goodput_per_s: round(good.length / ((recoveryStart - overloadStart) / 1000)),
    accepted: accepted.length,
    refused_503: open.filter((s) => s.status === 503).length,
    refused_429: open.filter((s) => s.status === 429).length,
    other_answers: open.filter((s) => ![202, 503, 429].includes(s.status)).length,
    deadline_cancellations: accepted.filter((s) => deadlineCancelled(outcome(s))).length,
    accepted_completion_p99_ms: round(percentile(completionMs, 99)),
    refusal_p99_ms: round(percentile(refusalMs, 99)),
    recovery_s: recoveryOrders.length === 0
      ? NaN
      : recoverySeconds(recoveryOrders, recoveryStart, percentile(tail, 95)),
  };
  const targets = {
    deadline_cancellations: 0,
    goodput_per_s: round(0.8 * capacity),
    accepted_completion_p99_ms: cfg.deadlineMs / 2,
    refusal_p99_ms: 20,
    recovery_s: 10,
  };
  const targetsMet = {
    deadline_cancellations: figures.deadline_cancellations === 0,
    goodput_per_s: figures.goodput_per_s >= targets.goodput_per_s,
    accepted_completion_p99_ms: figures.accepted_completion_p99_ms <=
      targets.accepted_completion_p99_ms,
    refusal_p99_ms: figures.refusal_p99_ms <= targets.refusal_p99_ms,
    recovery_s: figures.recovery_s <= targets.recovery_s,
  };
  console.log(JSON.stringify({
    bench: "overload",
    ...figures,
    deadline_ms: cfg.deadlineMs,
    isolated: cfg.isolation,
    targets,
    targets_met: targetsMet,
  }));
} catch (err) {
  console.error(err);
  console.error(suite.logs().slice(-10_000));
  exitCode = 1;
} finally {
  await suite.stop();
  await db.end();
}
Deno.exit(exitCode);
