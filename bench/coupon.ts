/**
 * `deno task bench:coupon` (run it as `./dev deno task bench:coupon`): issue
 * #6's benchmark of first-come-first-served issuance (SPEC §5, §6.3.2: 1,000
 * coupons, 50,000 requests → exactly 1,000 issued; target 10,000 requests/s,
 * 50 ms).
 *
 * It starts an issuance-only coupon process (tests/coupon/support.ts),
 * creates a campaign of BENCH_TOTAL coupons, and drives `POST /coupons/issue`
 * with wrk (bench/coupon_load.ts): BENCH_REQUESTS requests from BENCH_USERS
 * users (a token each, picked at random), BENCH_CONNECTIONS connections. It
 * waits until every grant is stored in Postgres and checks the count. Then
 * the baseline, in the same run: the same campaign and the same load against
 * a process deciding under a Postgres row lock on the campaign's counter
 * (`COUPON_ISSUER=pg-lock`, `select … for update`).
 *
 * Prints a table, then a last line of JSON.
 *
 * @module
 */
import { envInt, jwtSecret } from "../kit/env.ts";
import {
  adminToken,
  call,
  couponProcess,
  createCampaign,
  removeCampaigns,
  stored,
} from "../tests/coupon/support.ts";
import { type BurstResult, runBurst, writeTokens } from "./coupon_load.ts";
import { round, sleep, table } from "./support.ts";

const TOTAL = envInt("BENCH_TOTAL", 1_000, 1);
const REQUESTS = envInt("BENCH_REQUESTS", 50_000, 1);
const USERS = envInt("BENCH_USERS", 20_000, 1);
const CONNECTIONS = envInt("BENCH_CONNECTIONS", 64, 2);
const BASELINE_REQUESTS = envInt("BENCH_BASELINE_REQUESTS", REQUESTS, 1);

interface Phase {
  label: string;
  burst: BurstResult;
  /** Coupons in the database at the end, and ms from the burst's start until all were stored. */
  stored: number;
  storedAfterMs: number;
}

async function phase(
  label: string,
  issuer: "redis" | "pg-lock",
  tokensFile: string,
  requests: number,
  campaigns: string[],
): Promise<Phase> {
  const proc = couponProcess({ issuer }).start();
  try {
    await proc.ready(60_000);
    const admin = await adminToken();
    const campaignId = await createCampaign(proc.port, admin, { total: TOTAL });
    campaigns.push(campaignId);
    console.log(`${label}: ${requests} requests, ${USERS} users, ${TOTAL} coupons …`);
    const started = Date.now();
    const burst = await runBurst({
      baseUrl: `http://127.0.0.1:${proc.port}`,
      campaignId,
      tokensFile,
      requests,
      connections: CONNECTIONS,
      maxSeconds: 240, // the baseline needs about a minute for 50,000
    });
    let db = await stored(campaignId);
    while (db.rows < Math.min(TOTAL, burst.issued) && Date.now() - started < 120_000) {
      await sleep(20);
      db = await stored(campaignId);
    }
    const storedAfterMs = Date.now() - started;
    const view = await call(proc.port, admin, "GET", `/admin/campaigns/${campaignId}`);
    console.log(`  stored ${db.rows} coupons, campaign says ${JSON.stringify(view.body.issued)}`);
    return { label, burst, stored: db.rows, storedAfterMs };
  } catch (err) {
    console.error(proc.logs());
    throw err;
  } finally {
    await proc.stop();
  }
}

const campaigns: string[] = [];
const dir = await Deno.makeTempDir({ prefix: "bench-coupon-" });
try {
  const run = Date.now().toString(36);
  const users = Array.from({ length: USERS }, (_, i) => `bench-${run}-u${i}`);
  const tokensFile = await writeTokens(dir, users, jwtSecret());
  const redis = await phase("redis (Lua, SPEC §5.2.1)", "redis", tokensFile, REQUESTS, campaigns);
  const base = await phase(
    "baseline (pg row lock)",
    "pg-lock",
    tokensFile,
    BASELINE_REQUESTS,
    campaigns,
  );

  const row = (p: Phase) => [
    p.label,
    p.burst.answered,
    round(p.burst.requestsPerS, 0),
    round(p.burst.meanMs, 1),
    round(p.burst.p50Ms, 1),
    round(p.burst.p95Ms, 1),
    round(p.burst.p99Ms, 1),
    round(p.burst.maxMs, 1),
    p.burst.issued,
    p.burst.soldOut,
    p.burst.alreadyIssued,
    p.burst.unavailable + p.burst.other + p.burst.errors,
    p.stored,
  ];
  console.log(
    "\n" + table([
      [
        "issuer",
        "requests",
        "req/s",
        "mean ms",
        "p50",
        "p95",
        "p99",
        "max",
        "issued",
        "sold out",
        "already",
        "errors",
        "stored",
      ],
      row(redis),
      row(base),
    ]),
  );
  console.log(
    `redis: every grant stored ${redis.storedAfterMs} ms after the burst began ` +
      `(the burst itself took ${round(redis.burst.seconds * 1000, 0)} ms)`,
  );
  const result = {
    requests: redis.burst.answered,
    users: USERS,
    total: TOTAL,
    connections: CONNECTIONS,
    requests_per_s: round(redis.burst.requestsPerS, 0),
    mean_ms: round(redis.burst.meanMs, 2),
    p50_ms: round(redis.burst.p50Ms, 2),
    p95_ms: round(redis.burst.p95Ms, 2),
    p99_ms: round(redis.burst.p99Ms, 2),
    max_ms: round(redis.burst.maxMs, 2),
    issued: redis.stored,
    issued_answers: redis.burst.issued,
    sold_out: redis.burst.soldOut,
    already_issued: redis.burst.alreadyIssued,
    errors: redis.burst.unavailable + redis.burst.other + redis.burst.errors,
    all_stored_ms: redis.storedAfterMs,
    baseline_requests: base.burst.answered,
    baseline_requests_per_s: round(base.burst.requestsPerS, 0),
    baseline_p99_ms: round(base.burst.p99Ms, 2),
    baseline_max_ms: round(base.burst.maxMs, 2),
    baseline_issued: base.stored,
    ratio_vs_baseline: round(redis.burst.requestsPerS / base.burst.requestsPerS, 2),
  };
  const targets: [string, boolean][] = [
    [`≥ 10,000 requests/s (${result.requests_per_s})`, result.requests_per_s >= 10_000],
    [`p99 ≤ 50 ms (${result.p99_ms})`, result.p99_ms <= 50],
    [`ratio vs baseline ≥ 5 (${result.ratio_vs_baseline})`, result.ratio_vs_baseline >= 5],
    [`exactly ${TOTAL} issued (${result.issued})`, result.issued === TOTAL],
    [
      `SPEC §6.3.2: mean ≤ 45 ms (${result.mean_ms}), max ≤ 150 ms (${result.max_ms})`,
      result.mean_ms <= 45 && result.max_ms <= 150,
    ],
  ];
  for (const [what, met] of targets) console.log(`  ${met ? "met    " : "MISSED "} ${what}`);
  const [load1] = Deno.loadavg();
  console.log(`  (load average now ${load1.toFixed(1)} on ${navigator.hardwareConcurrency} cores)`);
  console.log(JSON.stringify(result));
  if (redis.stored !== TOTAL || redis.burst.issued !== TOTAL) {
    console.error(`expected exactly ${TOTAL} issued`);
    Deno.exitCode = 1;
  }
} finally {
  await removeCampaigns(campaigns);
  await Deno.remove(dir, { recursive: true });
}
