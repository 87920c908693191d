/**
 * `deno task bench:saga` (run it as `./dev deno task bench:saga`): issue #5's
 * benchmark of the order saga, end to end on real processes. It starts the
 * suite as the e2e tests do (tests/support/suite.ts: a relay, two order
 * instances, inventory, coupon, point, dead letters), seeds products and users through the
 * admin APIs, opens one WebSocket per user (`GET /orders/ws`, spread over
 * both order instances) and drives orders over HTTP:
 *
 *  1. parallel: simple orders (1–3 lines, no coupon, no points) with the
 *     rollout switch at hybrid / enabled / 100 % (so they run in parallel),
 *     BENCH_CONCURRENCY clients for BENCH_SECONDS, requests alternating
 *     between the two order instances → sagas/s, HTTP and completion times;
 *  2. + 3. parallel vs sequential: the SAME orders (same per-client sequence
 *     of shapes) with a coupon and points too, once with the strategy forced
 *     to parallel, once forced to sequential. Why not the simple orders of
 *     phase 1: their only steps are stock lines, and stock lines are ONE
 *     stage in sequential mode (services/order/domain/saga.ts), so sequential
 *     and parallel are the same saga for them; the modes differ only for
 *     orders with more than one kind of step (stock → coupon → point, the
 *     report's own load test, §6.3.1). Forcing the mode on identical orders
 *     keeps everything else equal.
 *
 * Per order: HTTP time of POST /orders (until the 202 body is read) and
 * completion time (POST sent → the WebSocket's COMPLETED). Load model:
 * BENCH_CONCURRENCY clients, each with at most BENCH_WINDOW orders waiting
 * for their outcome (default 1: a user places an order, waits for its
 * outcome, places the next). So the orders in flight are bounded and a
 * saturated pipeline shows as throughput, not as a backlog that grows with
 * the run's length (BENCH_WINDOW=0: the next POST follows the 202 at once,
 * no bound). Phase 1 runs enough clients (128) to saturate the host: its
 * sagas/s is the suite's capacity here, and its times include the queueing
 * of a saturated pipeline. The comparison runs its two modes under one
 * lighter load (BENCH_COMPARE_CONCURRENCY, 8 clients): saturated, both modes
 * do the same work in the same CPU-bound queues and a closed load makes their
 * completion times equal by Little's law, which says nothing about the
 * flows; below saturation the times are the flows' own. Afterwards the database tells
 * where the time went per hop (outbox row → participant's inbox → reply
 * applied → WebSocket), /proc the CPU per process group, and the suite
 * relay's /metrics its transactions.
 *
 * Isolation (issue #16): the bench measures its OWN suite. Before starting
 * it, it refuses to run (exit code 2, a message saying what is in the way and
 * how to stop it) while anything else is in the services' consumer groups,
 * holds the relay's replication slot, or runs from `./dev up`
 * (bench/isolation.ts); during the run it checks after each phase that no
 * member joined and its relay is still the active one, and marks the run
 * `isolated: false` (exit code 2) otherwise.
 *
 * Cost per saga (issue #16): over each phase's window (its first POST to the
 * end of sending, outcomes of the last orders included) `cpu_ms_per_saga` is
 * the CPU of every process of the suite — its relay and services, Kafka's
 * brokers, Postgres (every backend, those that exited included), Redis —
 * divided by the sagas COMPLETED in the same window (bench/cpu.ts); the load
 * generator (this process), Jaeger and Prometheus are shown apart, not
 * counted. `statements_per_saga`: statements the services sent to Postgres
 * in the window (`pg_stat_statements`, reset at its start) per completed
 * saga (bench/statements.ts). For the coupon + points phases both include
 * the admin call that makes each order's coupon (untimed, but work).
 *
 * Errors: non-202 answers, and accepted orders not COMPLETED within
 * BENCH_COMPLETION_TIMEOUT_MS (cancelled, or no outcome). An order the
 * database shows COMPLETED in time whose notification never came is counted
 * apart (`ws_missed`), not as an error.
 *
 * The mode settings are restored and every process started is stopped at
 * the end, also on failure or Ctrl-C. The last line printed is one JSON
 * object. Settings (defaults): BENCH_SECONDS (20), BENCH_CONCURRENCY (128),
 * BENCH_WINDOW (1), BENCH_COMPARE_SECONDS (= BENCH_SECONDS; 0 skips the
 * comparison), BENCH_COMPARE_CONCURRENCY (8), BENCH_COMPARE_WINDOW (= the main
 * load's), BENCH_USERS (= clients), BENCH_PRODUCTS (100),
 * BENCH_WARMUP_SECONDS (3), BENCH_COMPLETION_TIMEOUT_MS (10000),
 * BENCH_SIMPLE_SEQUENTIAL (also run phase 1's orders forced sequential),
 * BENCH_EXTRA (more service instances in the same consumer groups, e.g.
 * `inventory=2,order=1`: an experiment in scaling out), BENCH_CPU_PROF_DIR
 * (the extra instances run with `--cpu-prof` into that folder and their
 * hot spots are printed: e.g. `BENCH_EXTRA=order=1` profiles the reply path).
 * BENCH_TRACE_SAMPLE (0.01): the share of sagas traced, as a production
 * deployment samples (OTEL_TRACES_SAMPLER=parentbased_traceidratio for the
 * processes the suite starts: the root span at POST /orders decides, every
 * hop of that saga follows it); a span per hop of every saga cost ~15 % of
 * the throughput (1 = trace every saga).
 * BENCH_LEADERS (preferred): before measuring, every partition's leadership
 * goes back to its preferred replica (`./dev kafka elect`), so the figures
 * are those of a balanced cluster and repeatable: stopping brokers one by
 * one (`./dev down`, chaos runs) leaves every leader on the last one, and
 * with all leaders on one broker interleaved runs measured ~15 % more sagas/s
 * (README, the saga benchmark). `asis` measures the placement found; the
 * leaders per broker are printed and in the JSON either way.
 * Variables of the services (e.g. INVENTORY_DB_POOL_MAX) reach the
 * processes the suite starts, not `./dev up`'s.
 *
 * @module
 */
import { connectAdmin } from "../db/mod.ts";
import { Admin } from "../kafka/admin.ts";
import { EVENT_TOPICS } from "../kafka/topics.ts";
import { envBool, envInt, envString } from "../kit/env.ts";
import { dev } from "../tests/support/dev.ts";
import { testKafka } from "../tests/support/kafka.ts";
import { ManagedProcess, testPort } from "../tests/support/process.ts";
import { Client, Suite } from "../tests/support/suite.ts";
import { CpuMeter, type CpuSnapshot, type CpuWindow, parentPid, pidFile } from "./cpu.ts";
import { foreignUsers, GroupWatch, refusal, suiteGroups } from "./isolation.ts";
import { type BenchUser, drain, drive, Notifications, readBack, type Sample } from "./saga_load.ts";
import { resetStatements, statementsSinceReset } from "./statements.ts";
import { formatCpuProfile, nowMs, percentile, round, scrape, sleep, table } from "./support.ts";

const seconds = envInt("BENCH_SECONDS", 20, 1, 3_600);
const concurrency = envInt("BENCH_CONCURRENCY", 128, 1, 2_000);
const window = envInt("BENCH_WINDOW", 1, 0, 10_000);
const compareConcurrency = envInt("BENCH_COMPARE_CONCURRENCY", 8, 1, 2_000);
const cfg = {
  seconds,
  concurrency,
  window,
  compareSeconds: envInt("BENCH_COMPARE_SECONDS", seconds, 0, 3_600),
  compareConcurrency,
  compareWindow: envInt("BENCH_COMPARE_WINDOW", window, 0, 10_000),
  users: envInt("BENCH_USERS", Math.max(concurrency, compareConcurrency), 1, 10_000),
  products: envInt("BENCH_PRODUCTS", 100, 3, 100_000),
  warmupSeconds: envInt("BENCH_WARMUP_SECONDS", 3, 0, 600),
  completionTimeoutMs: envInt("BENCH_COMPLETION_TIMEOUT_MS", 10_000, 1_000),
  simpleSequential: envBool("BENCH_SIMPLE_SEQUENTIAL", false),
  /** Extra service instances joining the same consumer groups, e.g. `inventory=2,order=1`. */
  extra: envString("BENCH_EXTRA", ""),
  /** Where the extra instances write `--cpu-prof` profiles ("" = not profiled). */
  cpuProfDir: envString("BENCH_CPU_PROF_DIR", ""),
  traceSample: Number(envString("BENCH_TRACE_SAMPLE", "0.01")),
  /** `preferred`: elect every partition's preferred leader first; `asis`: measure as placed. */
  leaders: envString("BENCH_LEADERS", "preferred"),
};

if (cfg.leaders !== "preferred" && cfg.leaders !== "asis") {
  throw new Error(`BENCH_LEADERS: "${cfg.leaders}" is not preferred or asis`);
}

/** Partitions led per broker: the event topics, and the coordinators' internal topics. */
async function leaderPlacement() {
  const kafkaAdmin = new Admin(testKafka("bench-saga-leaders"));
  await kafkaAdmin.connect();
  try {
    const perBroker = (topics: string[]) => kafkaAdmin.leadersPerBroker(topics);
    return {
      events: await perBroker(EVENT_TOPICS.map((t) => t.name)),
      coordinators: await perBroker(["__consumer_offsets", "__transaction_state"]),
    };
  } finally {
    await kafkaAdmin.disconnect();
  }
}

/**
 * Issue #16's targets: at 8 clients with coupon + points (the comparison),
 * and at 128 clients with simple orders (phase 1).
 */
const TARGETS = {
  parallel_completion_p50_ms: 150,
  parallel_completion_p95_ms: 250,
  sequential_completion_p50_ms: 450,
  parallel_vs_sequential_p50: 0.5,
  sagas_per_s: 200,
  cpu_ms_per_saga: 8,
  errors: 0,
  ws_p50_ms: 30,
};

const ROOT = new URL("../", import.meta.url).pathname;
const run = crypto.randomUUID().slice(0, 8);
const log = (msg: string) =>
  console.log(`[bench:saga ${new Date().toISOString().slice(11, 19)}] ${msg}`);

type ModeSettings = { strategy: string; parallelEnabled: boolean; parallelPercentage: number };
const HYBRID: ModeSettings = { strategy: "hybrid", parallelEnabled: true, parallelPercentage: 100 };
const FORCE_PARALLEL: ModeSettings = { ...HYBRID, strategy: "parallel" };
const FORCE_SEQUENTIAL: ModeSettings = { ...HYBRID, strategy: "sequential" };

/**
 * More instances of the services (an experiment: does scaling a consumer
 * group out help?). They are started like the suite's own (same
 * environment), join the same consumer groups, and get no HTTP traffic.
 */
function extraInstances(spec: string): ManagedProcess[] {
  const scripts: Record<string, [string, string]> = {
    order: ["services/order/main.ts", "ORDER_HTTP_PORT"],
    inventory: ["services/inventory/main.ts", "INVENTORY_HTTP_PORT"],
    coupon: ["services/coupon/main.ts", "COUPON_HTTP_PORT"],
    point: ["services/point/main.ts", "POINT_HTTP_PORT"],
  };
  const out: ManagedProcess[] = [];
  for (const part of spec.split(",").map((x) => x.trim()).filter(Boolean)) {
    const [service, n] = part.split("=");
    if (!scripts[service] || !/^\d+$/.test(n ?? "")) {
      throw new Error(
        `BENCH_EXTRA: "${part}" is not service=count (order, inventory, coupon, point)`,
      );
    }
    for (let i = 0; i < Number(n); i++) {
      const [script, portVar] = scripts[service];
      out.push(
        new ManagedProcess({
          name: `${service}-extra-${i}`,
          script,
          port: testPort(),
          denoFlags: cfg.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${cfg.cpuProfDir}`] : [],
          env: {
            CONSUMER_RETRY_DELAY_MS: "200",
            ORDER_INSTANCE_ID: `bench-order-extra-${i}-${Deno.pid}`,
            ORDER_SAGA_DEADLINE_MS: "30000",
            ORDER_DEADLINE_SWEEP_MS: "200",
          },
        }).withPortEnv(portVar),
      );
    }
  }
  return out;
}

/** The members each consumer group gets from the bench's own processes: one per service process. */
function ownMembers(): Map<string, number> {
  const [order, inventory, coupon, point, deadletter] = suiteGroups();
  const extra = (service: string) => extras.filter((p) => p.name.startsWith(`${service}-`)).length;
  return new Map([
    [order, suite.orders.length + extra("order")],
    [inventory, 1 + extra("inventory")],
    [coupon, 1 + extra("coupon")],
    [point, 1 + extra("point")],
    [deadletter, 1],
  ]);
}

// ---------------------------------------------------------------- orders

/** A deterministic number in [0, 1) for (client, order number, salt): same orders every phase. */
function unit(c: number, k: number, salt: number): number {
  let h = Math.imul(c + 1, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca77) ^ Math.imul(salt, 0xc2b2ae3d);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}

const productIds = Array.from({ length: cfg.products }, (_, i) => `bench-${run}-p${i}`);

/** 1–3 lines of distinct products, quantity 1–2: the k-th order of client c. */
function lines(c: number, k: number) {
  const n = 1 + Math.floor(unit(c, k, 1) * 3);
  const picked = new Set<string>();
  for (let salt = 2; picked.size < n; salt++) {
    picked.add(productIds[Math.floor(unit(c, k, salt) * productIds.length)]);
  }
  return [...picked].map((productId, i) => ({
    productId,
    quantity: 1 + Math.floor(unit(c, k, 100 + i) * 2),
  }));
}

// ---------------------------------------------------------------- phases

interface PhaseDef {
  name: string;
  what: string;
  settings: ModeSettings;
  expectMode: string;
  seconds: number;
  concurrency: number;
  window: number;
  /** Orders with a coupon and points (the coupon is made for each order, untimed). */
  full: boolean;
}

interface PhaseResult {
  def: PhaseDef;
  samples: Sample[];
  start: number;
  sendEnd: number;
  drainedAt: number;
  /** The CPU and statements window: the phase's first POST … the end of sending. */
  cpuFrom: number;
  cpuTo: number;
  cpu: CpuWindow;
  /** Statements the services ran in the CPU window. */
  statements: Awaited<ReturnType<typeof statementsSinceReset>>;
  relay: RelayDelta | undefined;
  db: Awaited<ReturnType<typeof readBack>>;
}

interface RelayDelta {
  transactions: number;
  retries: number;
  events: number;
  publishMeanMs: number;
  publishP50Ms: number;
  publishP95Ms: number;
}

function relayDelta(a: Map<string, number> | undefined, b: Map<string, number> | undefined) {
  if (!a || !b) return undefined;
  const d = (name: string) => (b.get(name) ?? 0) - (a.get(name) ?? 0);
  const count = d("relay_commit_to_publish_seconds_count");
  const buckets = [...b.keys()]
    .filter((k) => k.startsWith("relay_commit_to_publish_seconds_bucket{"))
    .map((k) => ({ le: Number(/le="([^"]+)"/.exec(k)?.[1] ?? "Infinity"), n: d(k) }))
    .sort((x, y) => x.le - y.le);
  /** The bucket bound the p-th percentile falls under (a histogram only knows that much). */
  const pct = (p: number) => {
    const want = (p / 100) * count;
    const hit = buckets.find((x) => x.n >= want);
    return hit ? hit.le * 1000 : NaN;
  };
  return {
    transactions: d("relay_kafka_transactions_total"),
    retries: d("relay_kafka_transaction_retries_total"),
    events: d("relay_events_published_total"),
    publishMeanMs: count > 0 ? (d("relay_commit_to_publish_seconds_sum") / count) * 1000 : NaN,
    publishP50Ms: pct(50),
    publishP95Ms: pct(95),
  };
}

const sorted = (xs: number[]) => xs.filter(Number.isFinite).sort((a, b) => a - b);
const p = (xs: number[], q: number) => round(percentile(xs, q));

/** COMPLETED in the database → the WebSocket's message, per order told so (ms). */
function notifyDelays(r: PhaseResult): number[] {
  const out: number[] = [];
  for (const s of r.samples) {
    const row = s.orderId ? r.db.orders.get(s.orderId) : undefined;
    if (s.final === "COMPLETED" && row?.status === "COMPLETED" && row.finishedMs !== null) {
      out.push(s.finalAt! - row.finishedMs);
    }
  }
  return out;
}

/** The suite's cost per saga COMPLETED in the CPU window (CPU ms, statements). */
function costPerSaga(r: PhaseResult) {
  const from = r.cpuFrom, to = r.cpuTo;
  let sagas = 0;
  for (const row of r.db.orders.values()) {
    if (row.status === "COMPLETED" && row.finishedMs !== null) {
      if (row.finishedMs >= from && row.finishedMs <= to) sagas++;
    }
  }
  const per = (x: number) => sagas > 0 ? x / sagas : NaN;
  return {
    sagas,
    cpuMs: per(r.cpu.suiteSeconds * 1000),
    cpuMsByGroup: r.cpu.groups.map((g) => [g.name, per(g.cpuSeconds * 1000)] as const),
    statements: per(r.statements.total),
    statementsByRole: Object.entries(r.statements.byRole).map(([k, v]) => [k, per(v)] as const),
  };
}

/** The figures of one phase. */
function summarize(r: PhaseResult) {
  const { samples, start, def } = r;
  const accepted = samples.filter((s) => s.status === 202);
  const non202 = samples.length - accepted.length;
  const timeout = cfg.completionTimeoutMs;
  let wsMissed = 0, cancelled = 0, timedOut = 0;
  const completion: number[] = [];
  const completedAt: number[] = [];
  for (const s of accepted) {
    if (s.final === "COMPLETED" && s.finalAt! - s.sentAt <= timeout) {
      completion.push(s.finalAt! - s.sentAt);
      completedAt.push(s.finalAt!);
      continue;
    }
    const row = s.orderId ? r.db.orders.get(s.orderId) : undefined;
    if (s.final === "CANCELLED" || row?.status === "CANCELLED") cancelled++;
    else if (
      row?.status === "COMPLETED" && row.finishedMs !== null && row.finishedMs - s.sentAt <= timeout
    ) {
      wsMissed++;
      completedAt.push(row.finishedMs);
    } else timedOut++;
  }
  const windowEnd = start + def.seconds * 1000;
  const inWindow = completedAt.filter((t) => t <= windowEnd).length;
  const http = sorted(accepted.map((s) => s.httpMs));
  const done = sorted(completion);
  const lastDone = completedAt.length ? Math.max(...completedAt) : start;
  const ws = sorted(notifyDelays(r));
  const cost = costPerSaga(r);
  return {
    ws: { p50: p(ws, 50), p95: p(ws, 95) },
    cpuMsPerSaga: round(cost.cpuMs, 2),
    statementsPerSaga: round(cost.statements, 2),
    sagasInCpuWindow: cost.sagas,
    sent: samples.length,
    accepted: accepted.length,
    non202,
    completed: completion.length + wsMissed,
    cancelled,
    timedOut,
    wsMissed,
    errors: non202 + cancelled + timedOut,
    modeMismatch: accepted.filter((s) => s.mode !== def.expectMode).length,
    placedPerS: round(accepted.filter((s) => s.sentAt <= windowEnd).length / def.seconds),
    sagasPerS: round(inWindow / def.seconds),
    sagasPerSWithDrain: round(completedAt.length / Math.max(0.001, (lastDone - start) / 1000)),
    backlogAtEnd: accepted.filter((s) => s.sentAt <= windowEnd).length - inWindow,
    http: { p50: p(http, 50), p95: p(http, 95), p99: p(http, 99), max: p(http, 100) },
    completion: {
      p50: p(done, 50),
      p95: p(done, 95),
      p99: p(done, 99),
      max: p(done, 100),
      mean: round(done.reduce((a, b) => a + b, 0) / Math.max(1, done.length)),
    },
  };
}

/** Where the time of the completed orders went, hop by hop (database timestamps). */
function hops(r: PhaseResult): [string, number, number, number][] {
  const byId = new Map(r.samples.filter((s) => s.orderId).map((s) => [s.orderId!, s]));
  const accept: number[] = [], saga: number[] = [];
  for (const [id, row] of r.db.orders) {
    const s = byId.get(id)!;
    accept.push(row.createdMs - s.sentAt);
    if (row.status === "COMPLETED" && row.finishedMs !== null) {
      saga.push(row.finishedMs - row.createdMs);
    }
  }
  const out: [string, number, number, number][] = [];
  const add = (label: string, xs: number[]) => {
    const s = sorted(xs);
    if (s.length > 0) out.push([label, s.length, p(s, 50), p(s, 95)]);
  };
  add("POST sent → order row written", accept);
  for (const kind of ["stock", "coupon", "point"] as const) {
    const steps = r.db.steps.filter((x) => x.kind === kind);
    add(
      `${kind} request → participant's tx begins`,
      steps.filter((x) => x.handledMs !== null).map((x) => x.handledMs! - x.requestedMs),
    );
    add(
      `${kind} participant's tx → reply applied`,
      steps.filter((x) => x.handledMs !== null && x.appliedMs !== null).map((x) =>
        x.appliedMs! - x.handledMs!
      ),
    );
  }
  add("order row → saga COMPLETED (in the db)", saga);
  add("COMPLETED in the db → WebSocket message", notifyDelays(r));
  return out;
}

// ---------------------------------------------------------------- main

if (!(cfg.traceSample >= 0 && cfg.traceSample <= 1)) {
  throw new Error(`BENCH_TRACE_SAMPLE must be a number from 0 to 1, not ${cfg.traceSample}`);
}
// The suite's processes inherit this process's environment.
Deno.env.set("OTEL_TRACES_SAMPLER", "parentbased_traceidratio");
Deno.env.set("OTEL_TRACES_SAMPLER_ARG", String(cfg.traceSample));
const suite = new Suite();
if (cfg.cpuProfDir) Deno.mkdirSync(cfg.cpuProfDir, { recursive: true });
const extras = extraInstances(cfg.extra);
const admin = Client.admin();
const sql = connectAdmin({ max: 2 });
const notifications = new Notifications();
let savedSettings: ModeSettings | null = null;
let cleaned: Promise<void> | null = null;

function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    if (savedSettings) {
      const res = await admin.call(suite.orders[0], "PUT", "/admin/settings/mode", savedSettings)
        .catch((err) => ({ status: 0, body: String(err) }));
      if (res.status === 200) log(`mode settings restored: ${JSON.stringify(savedSettings)}`);
      else log(`could not restore the mode settings (${res.status}): ${JSON.stringify(res.body)}`);
    }
    notifications.close();
    await sql.end({ timeout: 5 }).catch(() => {});
    await Promise.all([suite.stop(), ...extras.map((p) => p.stop())]);
    log("suite stopped");
  })();
  return cleaned;
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, () => {
    log(`${sig}: cleaning up`);
    cleanup().finally(() => Deno.exit(130));
  });
}

const run_ = (name: string) => pidFile(`${ROOT}.data/run/${name}.pid`);
/** The postmaster: the parent of this bench's own backend (its tree is every backend). */
let postmaster: number | null = null;
const SUITE = { suite: true };
const cpu = new CpuMeter()
  .group("suite order ×2", () => suite.orders.map((o) => o.pid), SUITE)
  .group("suite inventory", () => [suite.inventory.pid], SUITE)
  .group("suite coupon + point", () => [suite.coupon.pid, suite.point.pid], SUITE)
  .group("suite dead letters", () => [suite.deadletter.pid], SUITE)
  .group("suite relay", () => [suite.relay.pid], SUITE)
  .group("extra instances (BENCH_EXTRA)", () => extras.map((p) => p.pid), SUITE)
  .group("kafka ×3", () => [1, 2, 3].map((n) => run_(`kafka-${n}`)), { ...SUITE, tree: true })
  .group("postgres (all backends)", () => [postmaster], { ...SUITE, tree: true })
  .group("redis", () => [run_("redis")], { ...SUITE, tree: true })
  .group("jaeger + prometheus (not counted)", () => [run_("jaeger"), run_("prometheus")], {
    tree: true,
  })
  .group("bench, the load (not counted)", () => [Deno.pid]);

/** Problems of isolation seen during the run (a member joined, the relay stood by). */
const disturbed: string[] = [];
const groupWatch = new GroupWatch();

/** After a phase: is the bench still alone with its suite? */
async function checkStillAlone(phase: string): Promise<void> {
  for (const j of await groupWatch.joined()) disturbed.push(`${phase}: ${j}`);
  const h = await suite.relay.get<{ state: string }>("/health");
  if (h?.state !== "active") disturbed.push(`${phase}: the suite's relay is ${h?.state}`);
}

async function runPhase(def: PhaseDef, users: BenchUser[]): Promise<PhaseResult> {
  const set = await admin.call(suite.orders[0], "PUT", "/admin/settings/mode", def.settings);
  if (set.status !== 200) throw new Error(`PUT /admin/settings/mode: ${set.status}`);
  log(
    `${def.name}: ${def.what}; ${def.concurrency} clients, window ${def.window}, ${def.seconds} s`,
  );
  await resetStatements(sql);
  const cpu0: CpuSnapshot = cpu.snapshot();
  const relay0 = await scrape(suite.relay.port);
  const { samples, start } = await drive({
    seconds: def.seconds,
    concurrency: def.concurrency,
    window: def.window,
    users,
    instances: suite.orders,
    notifications,
    completionTimeoutMs: cfg.completionTimeoutMs,
    body: async (u, c, k) => {
      const body: Record<string, unknown> = { items: lines(c, k) };
      if (def.full) {
        const res = await admin.call<{ id: string }>(suite.coupon, "POST", "/admin/coupons", {
          userId: u.client.userId,
          discount: 100,
        });
        if (res.status !== 201) throw new Error(`POST /admin/coupons: ${res.status}`);
        body.couponId = res.body.id;
        body.points = 10;
      }
      return body;
    },
  });
  const sendEnd = nowMs();
  const cpu1 = cpu.snapshot();
  const statements = await statementsSinceReset(sql);
  log(`${def.name}: ${samples.length} orders sent; waiting for their outcomes`);
  await drain(samples, notifications, cfg.completionTimeoutMs);
  const drainedAt = nowMs();
  await sleep(300); // the relay's last transaction of the phase
  const relay1 = await scrape(suite.relay.port);
  const db = await readBack(sql, samples.filter((s) => s.orderId).map((s) => s.orderId!));
  await checkStillAlone(def.name);
  return {
    def,
    samples,
    start,
    sendEnd,
    drainedAt,
    cpuFrom: cpu0.at,
    cpuTo: cpu1.at,
    cpu: cpu.between(cpu0, cpu1),
    statements,
    relay: relayDelta(relay0, relay1),
    db,
  };
}

const t0 = nowMs();
let exitCode = 0;
let summaryLine: string | null = null;
let leaders: Awaited<ReturnType<typeof leaderPlacement>> | undefined;

// Alone, or not at all: nothing is started while others share the groups or the slot.
const problems = await foreignUsers(sql, ROOT);
if (problems.length > 0) {
  console.error(refusal(problems));
  await sql.end({ timeout: 5 }).catch(() => {});
  Deno.exit(2);
}
const [{ pid: backend }] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
postmaster = parentPid(backend);

try {
  if (cfg.leaders === "preferred") {
    // A broker still catching up after a restart cannot take its leaderships
    // back yet; the bench then measures the placement found (printed below).
    const elected = await dev("kafka", "elect").catch((err) => `warning: ${String(err).trim()}`);
    log(elected.trim());
  }
  log(`starting the suite (relay, 2 × order, inventory, coupon, point)`);
  await suite.start();
  for (const p of extras) p.start();
  await Promise.all(extras.map((p) => p.ready(60_000)));
  if (extras.length > 0) log(`extra instances: ${extras.map((p) => p.name).join(", ")}`);
  // Ready is listening; active is holding the slot (a foreign relay could have taken it meanwhile).
  let relayState: string | undefined;
  for (let i = 0; i < 100 && relayState !== "active"; i++) {
    relayState = (await suite.relay.get<{ state: string }>("/health"))?.state;
    if (relayState !== "active") await sleep(100);
  }
  if (relayState !== "active") {
    throw new Error(refusal([`the suite's relay is ${relayState}: another relay holds the slot`]));
  }
  log(`suite up in ${round((nowMs() - t0) / 1000)} s; its relay holds the slot`);

  leaders = await leaderPlacement();
  const show = (m: Record<string, number>) =>
    Object.entries(m).map(([b, n]) => `broker ${b}: ${n}`).join(", ");
  log(
    `partition leaders (BENCH_LEADERS=${cfg.leaders}): event topics ${show(leaders.events)}; ` +
      `__consumer_offsets + __transaction_state ${show(leaders.coordinators)}`,
  );

  const saved = await admin.call<ModeSettings>(suite.orders[0], "GET", "/admin/settings/mode");
  if (saved.status !== 200) throw new Error(`GET /admin/settings/mode: ${saved.status}`);
  savedSettings = saved.body;

  // Seed: products with plenty of stock, users (with points when the comparison runs).
  const seedT0 = nowMs();
  const inBatches = async <T>(items: T[], n: number, f: (x: T) => Promise<void>) => {
    for (let i = 0; i < items.length; i += n) await Promise.all(items.slice(i, i + n).map(f));
  };
  await inBatches(productIds, 16, async (id) => {
    const res = await admin.call(suite.inventory, "POST", "/products", {
      id,
      name: `bench product ${id}`,
      price: 1_000,
      stock: 100_000_000,
    });
    if (res.status !== 201) {
      throw new Error(`POST /products: ${res.status} ${JSON.stringify(res.body)}`);
    }
  });
  const users: BenchUser[] = [];
  for (let i = 0; i < cfg.users; i++) {
    const client = new Client(`bench-${run}-u${i}`);
    users.push({ client, token: await client.token(), socketVia: suite.orders[i % 2] });
  }
  if (cfg.compareSeconds > 0) {
    await inBatches(users, 16, async (u) => {
      const res = await admin.call(suite.point, "POST", "/admin/points/grant", {
        userId: u.client.userId,
        amount: 100_000_000,
      });
      if (res.status !== 200) throw new Error(`points grant: ${res.status}`);
    });
  }
  await notifications.open(users);
  log(
    `seeded ${productIds.length} products, ${users.length} users, ` +
      `${users.length} WebSockets in ${round((nowMs() - seedT0) / 1000)} s`,
  );

  const phases: PhaseDef[] = [{
    name: "parallel",
    what: "simple orders, hybrid 100 % (→ parallel)",
    settings: HYBRID,
    expectMode: "parallel",
    seconds: cfg.seconds,
    concurrency: cfg.concurrency,
    window: cfg.window,
    full: false,
  }];
  if (cfg.simpleSequential) {
    phases.push({
      ...phases[0],
      name: "simple-seq",
      what: "the same simple orders, forced sequential",
      settings: FORCE_SEQUENTIAL,
      expectMode: "sequential",
    });
  }
  if (cfg.compareSeconds > 0) {
    const cmp = {
      seconds: cfg.compareSeconds,
      concurrency: cfg.compareConcurrency,
      window: cfg.compareWindow,
      full: true,
    };
    phases.push({
      name: "cmp-parallel",
      what: "orders with coupon + points, forced parallel",
      settings: FORCE_PARALLEL,
      expectMode: "parallel",
      ...cmp,
    }, {
      name: "cmp-sequential",
      what: "the same orders, forced sequential",
      settings: FORCE_SEQUENTIAL,
      expectMode: "sequential",
      ...cmp,
    });
  }

  if (cfg.warmupSeconds > 0) {
    await admin.call(suite.orders[0], "PUT", "/admin/settings/mode", HYBRID);
    const warm = await drive({
      seconds: cfg.warmupSeconds,
      concurrency: cfg.concurrency,
      window: 1,
      users,
      instances: suite.orders,
      notifications,
      completionTimeoutMs: 15_000,
      body: (_u, c, k) => Promise.resolve({ items: lines(c, 1_000_000 + k) }),
    });
    await drain(warm.samples, notifications, 15_000);
    const ok = warm.samples.filter((s) => s.final === "COMPLETED").length;
    log(`warm-up: ${warm.samples.length} orders, ${ok} completed over the WebSockets`);
    if (ok === 0) throw new Error("warm-up: no order completed over the WebSockets");
  }

  for (const more of await groupWatch.settle(ownMembers())) disturbed.push(`at the start: ${more}`);
  const results: PhaseResult[] = [];
  for (const def of phases) results.push(await runPhase(def, users));
  const sums = results.map(summarize);
  const byName = (n: string) => sums[results.findIndex((r) => r.def.name === n)];

  // ---------------------------------------------------------------- report
  console.log("");
  console.log(table([
    ["", ...results.map((r) => r.def.name)],
    ["what", ...results.map((r) => r.def.what)],
    [
      "clients × window, seconds",
      ...results.map((r) => `${r.def.concurrency} × ${r.def.window || "∞"}, ${r.def.seconds}`),
    ],
    ["orders sent / 202", ...sums.map((s) => `${s.sent} / ${s.accepted}`)],
    ["placed/s", ...sums.map((s) => s.placedPerS)],
    ["sagas/s (completed in the window)", ...sums.map((s) => s.sagasPerS)],
    ["sagas/s (incl. drain)", ...sums.map((s) => s.sagasPerSWithDrain)],
    ["not done when sending stopped", ...sums.map((s) => s.backlogAtEnd)],
    [
      "HTTP p50 / p95 / p99 / max ms",
      ...sums.map((s) => `${s.http.p50} / ${s.http.p95} / ${s.http.p99} / ${s.http.max}`),
    ],
    [
      "completion p50 / p95 / p99 ms",
      ...sums.map((s) => `${s.completion.p50} / ${s.completion.p95} / ${s.completion.p99}`),
    ],
    ["completion mean / max ms", ...sums.map((s) => `${s.completion.mean} / ${s.completion.max}`)],
    [
      "errors (non-202, cancelled, timed out)",
      ...sums.map((s) => `${s.errors} (${s.non202}, ${s.cancelled}, ${s.timedOut})`),
    ],
    ["completed, no WebSocket message", ...sums.map((s) => s.wsMissed)],
    ["mode other than expected", ...sums.map((s) => s.modeMismatch)],
    [
      "relay txns / retries / events",
      ...results.map((r) =>
        r.relay ? `${r.relay.transactions} / ${r.relay.retries} / ${r.relay.events}` : "n/a"
      ),
    ],
    [
      "relay events per txn",
      ...results.map((r) =>
        r.relay ? round(r.relay.events / Math.max(1, r.relay.transactions)) : "n/a"
      ),
    ],
    [
      "relay commit→publish mean / p50≤ / p95≤ ms",
      ...results.map((r) =>
        r.relay
          ? `${round(r.relay.publishMeanMs)} / ${r.relay.publishP50Ms} / ${r.relay.publishP95Ms}`
          : "n/a"
      ),
    ],
    ["host CPU busy %", ...results.map((r) => round(r.cpu.hostPct))],
  ]));
  for (const r of results) {
    console.log(`\nwhere the time went, ${r.def.name} (database timestamps; ms)`);
    console.log(table([["hop", "n", "p50", "p95"], ...hops(r)]));
  }
  console.log(
    "\nCPU while sending (cores; this machine has " +
      `${navigator.hardwareConcurrency})`,
  );
  console.log(table([
    ["process group", ...results.map((r) => r.def.name)],
    ...results[0].cpu.groups.map(({ name }, i) => [
      name,
      ...results.map((r) => round(r.cpu.groups[i].cores, 2)),
    ]),
  ]));
  const costs = results.map(costPerSaga);
  console.log(
    "\nCost per saga COMPLETED in the window: CPU ms per process group, and statements " +
      "(pg_stat_statements) per role",
  );
  console.log(table([
    ["", ...results.map((r) => r.def.name)],
    ["sagas completed in the window", ...costs.map((c) => c.sagas)],
    [
      "cpu_ms_per_saga (the suite: services, relay, Kafka, Postgres, Redis)",
      ...sums.map((s) => s.cpuMsPerSaga),
    ],
    ...results[0].cpu.groups.map(({ name }, i) => [
      `  ${name}`,
      ...costs.map((c) => round(c.cpuMsByGroup[i][1], 2)),
    ]),
    ["statements_per_saga", ...sums.map((s) => s.statementsPerSaga)],
    ...[...new Set(costs.flatMap((c) => c.statementsByRole.map(([role]) => role)))].map((role) => [
      `  ${role}`,
      ...costs.map((c) => round(c.statementsByRole.find(([r]) => r === role)?.[1] ?? 0, 2)),
    ]),
  ]));

  for (const r of results) {
    const other = r.cpu.groups.find((g) => g.name === "other")?.cores ?? 0;
    if (other > 0.15) {
      console.log(
        `note: the rest of the host (other processes, the kernel) used ${round(other, 2)} ` +
          `cores during ${r.def.name}: its figures may be disturbed`,
      );
    }
  }

  const par = byName("parallel");
  const cmpPar = cfg.compareSeconds > 0 ? byName("cmp-parallel") : undefined;
  const cmpSeq = cfg.compareSeconds > 0 ? byName("cmp-sequential") : undefined;
  const ratio = cmpPar && cmpSeq ? round(cmpPar.completion.p50 / cmpSeq.completion.p50, 3) : null;
  // Coupon + points orders: both comparison phases' CPU and statements over their sagas.
  const cmp = results.filter((r) => r.def.full).map(costPerSaga);
  const cmpSagas = cmp.reduce((n, c) => n + c.sagas, 0);
  const cmpPer = (f: (c: (typeof cmp)[number]) => number) =>
    cmpSagas > 0 ? round(cmp.reduce((n, c) => n + f(c) * c.sagas, 0) / cmpSagas, 2) : null;
  const met = {
    parallel_completion_p50_ms: cmpPar !== undefined &&
      cmpPar.completion.p50 <= TARGETS.parallel_completion_p50_ms,
    parallel_completion_p95_ms: cmpPar !== undefined &&
      cmpPar.completion.p95 <= TARGETS.parallel_completion_p95_ms,
    sequential_completion_p50_ms: cmpSeq !== undefined &&
      cmpSeq.completion.p50 <= TARGETS.sequential_completion_p50_ms,
    parallel_vs_sequential_p50: ratio !== null && ratio <= TARGETS.parallel_vs_sequential_p50,
    sagas_per_s: par.sagasPerS >= TARGETS.sagas_per_s,
    cpu_ms_per_saga: par.cpuMsPerSaga <= TARGETS.cpu_ms_per_saga,
    errors: par.errors <= TARGETS.errors,
    ws_p50_ms: par.ws.p50 <= TARGETS.ws_p50_ms,
  };
  const value: Record<keyof typeof TARGETS, number | null> = {
    parallel_completion_p50_ms: cmpPar?.completion.p50 ?? null,
    parallel_completion_p95_ms: cmpPar?.completion.p95 ?? null,
    sequential_completion_p50_ms: cmpSeq?.completion.p50 ?? null,
    parallel_vs_sequential_p50: ratio,
    sagas_per_s: par.sagasPerS,
    cpu_ms_per_saga: par.cpuMsPerSaga,
    errors: par.errors,
    ws_p50_ms: par.ws.p50,
  };
  const bound = (k: keyof typeof TARGETS) => (k === "sagas_per_s" ? ">=" : "<=");
  console.log(
    `\nTargets (issue #16; ${cfg.compareConcurrency} clients with coupon + points, ` +
      `${cfg.concurrency} clients with simple orders)`,
  );
  console.log(table([
    ["target", "value", "wanted", "met"],
    ...(Object.keys(TARGETS) as (keyof typeof TARGETS)[]).map((k) => [
      k,
      value[k] ?? "-",
      `${bound(k)} ${TARGETS[k]}`,
      met[k] ? "yes" : "NO",
    ]),
  ]));
  if (disturbed.length > 0) {
    exitCode = 2;
    console.log(
      `\nNOT ISOLATED — these figures are not the suite's own:\n  ${disturbed.join("\n  ")}`,
    );
  }
  const summary = {
    sagas_per_s: par.sagasPerS,
    cpu_ms_per_saga: par.cpuMsPerSaga,
    errors: par.errors,
    ws_p50_ms: par.ws.p50,
    statements_per_saga: par.statementsPerSaga,
    parallel_completion_p50_ms: cmpPar?.completion.p50 ?? null,
    parallel_completion_p95_ms: cmpPar?.completion.p95 ?? null,
    sequential_completion_p50_ms: cmpSeq?.completion.p50 ?? null,
    sequential_completion_p95_ms: cmpSeq?.completion.p95 ?? null,
    parallel_vs_sequential_p50: ratio,
    coupon_points_cpu_ms_per_saga: cmpPer((c) => c.cpuMs),
    coupon_points_statements_per_saga: cmpPer((c) => c.statements),
    compare_errors: cmpPar && cmpSeq ? cmpPar.errors + cmpSeq.errors : null,
    http_p50_ms: par.http.p50,
    http_p95_ms: par.http.p95,
    http_p99_ms: par.http.p99,
    completion_p50_ms: par.completion.p50,
    completion_p95_ms: par.completion.p95,
    completion_p99_ms: par.completion.p99,
    orders: par.accepted,
    ws_missed: par.wsMissed,
    isolated: disturbed.length === 0,
    targets: TARGETS,
    targets_met: met,
    config: {
      seconds: cfg.seconds,
      concurrency: cfg.concurrency,
      window: cfg.window,
      compare_seconds: cfg.compareSeconds,
      compare_concurrency: cfg.compareConcurrency,
      compare_window: cfg.compareWindow,
      users: cfg.users,
      products: cfg.products,
      completion_timeout_ms: cfg.completionTimeoutMs,
      extra: cfg.extra || null,
      trace_sample: cfg.traceSample,
      leaders: cfg.leaders,
      leaders_per_broker: leaders,
      cpus: navigator.hardwareConcurrency,
    },
    phases: Object.fromEntries(results.map((r, i) => [r.def.name, sums[i]])),
    run_seconds: round((nowMs() - t0) / 1000),
  };
  summaryLine = JSON.stringify(summary);
} catch (err) {
  exitCode = 1;
  console.error(err);
  console.error(suite.logs().slice(-8_000));
} finally {
  await cleanup();
}
if (cfg.cpuProfDir && extras.length > 0) {
  for (const f of Deno.readDirSync(cfg.cpuProfDir)) {
    if (f.name.endsWith(".cpuprofile")) {
      console.log(`\n${formatCpuProfile(`${cfg.cpuProfDir}/${f.name}`, 25)}`);
    }
  }
}
if (summaryLine) console.log(`\n${summaryLine}`);
Deno.exit(exitCode);
