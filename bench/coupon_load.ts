/**
 * The coupon burst's load generator (issue #6): `wrk` with a Lua script that
 * sends `POST /coupons/issue` for one campaign as many different users
 * (a bearer token per user, picked at random per request), and counts the
 * answers by kind. Used by `deno task bench:coupon` and the burst tests.
 *
 * Exactly `requests` issue requests are sent: each wrk thread sends its
 * share, then only `GET /health` until its share is answered, and stops.
 *
 * @module
 */
import { issueToken } from "../kit/http/auth.ts";

/** What one wrk run measured. */
export interface BurstResult {
  /** Issue requests answered, by outcome. */
  answered: number;
  issued: number;
  soldOut: number;
  alreadyIssued: number;
  unavailable: number;
  other: number;
  /** Socket errors and timeouts, as wrk counts them. */
  errors: number;
  seconds: number;
  requestsPerS: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Writes one bearer token per user into `dir/tokens.txt`; returns its path. */
export async function writeTokens(
  dir: string,
  users: readonly string[],
  secret: string,
): Promise<string> {
  const tokens = await Promise.all(users.map((sub) => issueToken(secret, { sub }, 3_600)));
  const path = `${dir}/tokens.txt`;
  await Deno.writeTextFile(path, tokens.join("\n") + "\n");
  return path;
}

const LUA = `
local threads = {}
local n = 0
function setup(thread)
  n = n + 1
  thread:set("tid", n)
  table.insert(threads, thread)
end

function init(args)
  -- Every user's request, formatted once: request() only picks one.
  local body = '{"campaignId":"' .. CAMPAIGN .. '"}'
  reqs = {}
  for line in io.lines(TOKENS) do
    if #line > 0 then
      reqs[#reqs + 1] = wrk.format("POST", "/coupons/issue",
        { ["Authorization"] = "Bearer " .. line, ["Content-Type"] = "application/json" }, body)
    end
  end
  math.randomseed(tid * 7919 + os.time())
  health = wrk.format("GET", "/health")
  -- wrk calls the first thread's request() once before the run, to check it.
  sent = tid == 1 and -1 or 0
  answered, last = 0, os.time()
  issued, sold, already, unavailable, other = 0, 0, 0, 0, 0
end

function request()
  if sent >= QUOTA then return health end
  sent = sent + 1
  return reqs[math.random(#reqs)]
end

local function finish()
  local f = io.open(DONE_DIR .. "/" .. tid, "w")
  f:close()
  wrk.thread:stop()
end

function response(status, headers, b)
  if status == 200 then
    -- A /health filler: all sent; give up on answers lost for 3 s.
    if os.time() - last >= 3 then finish() end
    return
  end
  answered = answered + 1
  last = os.time()
  if status == 202 or status == 201 then issued = issued + 1
  elseif status == 409 and string.find(b, "coupon_sold_out", 1, true) then sold = sold + 1
  elseif status == 409 and string.find(b, "coupon_already_issued", 1, true) then already = already + 1
  elseif status == 503 then unavailable = unavailable + 1
  else other = other + 1 end
  if answered >= QUOTA then finish() end
end

function done(summary, latency, requests)
  local c = { answered = 0, issued = 0, sold = 0, already = 0, unavailable = 0, other = 0 }
  for _, t in ipairs(threads) do
    for k, _ in pairs(c) do c[k] = c[k] + t:get(k) end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"answered":%d,"issued":%d,"sold":%d,"already":%d,"unavailable":%d,"other":%d,' ..
    '"errors":%d,"us":%d,"mean":%f,"p50":%d,"p95":%d,"p99":%d,"max":%d}\\n',
    c.answered, c.issued, c.sold, c.already, c.unavailable, c.other,
    e.connect + e.read + e.write + e.timeout, summary.duration, latency.mean,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
`;

export interface BurstOptions {
  /** e.g. `http://127.0.0.1:7103` */
  baseUrl: string;
  campaignId: string;
  tokensFile: string;
  /** Issue requests in all. */
  requests: number;
  connections?: number;
  threads?: number;
  /** Gives up after this long (s). */
  maxSeconds?: number;
  /** Ends the run early (e.g. once the server was killed). */
  signal?: AbortSignal;
}

/** Runs wrk against the issue endpoint; throws when wrk fails or prints no result. */
export async function runBurst(o: BurstOptions): Promise<BurstResult> {
  const threads = o.threads ?? 1;
  const connections = o.connections ?? 32;
  const dir = await Deno.makeTempDir({ prefix: "coupon-burst-" });
  try {
    const script = `${dir}/burst.lua`;
    const quota = Math.ceil(o.requests / threads);
    await Deno.writeTextFile(
      script,
      `TOKENS = ${JSON.stringify(o.tokensFile)}\nCAMPAIGN = ${JSON.stringify(o.campaignId)}\n` +
        `QUOTA = ${quota}\nDONE_DIR = ${JSON.stringify(dir)}\n${LUA}`,
    );
    const child = new Deno.Command("wrk", {
      args: [
        `-t${threads}`,
        `-c${connections}`,
        `-d${o.maxSeconds ?? 60}s`,
        "--timeout",
        "5s",
        "-s",
        script,
        o.baseUrl,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // wrk runs for its whole -d unless interrupted: each thread leaves a
    // file when its share is answered, and SIGINT then ends the run (wrk
    // prints its results on SIGINT).
    const output = child.output();
    const deadline = Date.now() + (o.maxSeconds ?? 60) * 1000;
    while (Date.now() < deadline && !o.signal?.aborted) {
      let finished = 0;
      for await (const e of Deno.readDir(dir)) if (/^\d+$/.test(e.name)) finished++;
      if (finished >= threads) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    try {
      child.kill("SIGINT");
    } catch { /* it ended */ }
    const out = await output;
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    const line = text.split("\n").find((l) => l.startsWith("WRK_JSON "));
    if (!out.success || !line) throw new Error(`wrk failed:\n${text}`);
    const r = JSON.parse(line.slice("WRK_JSON ".length));
    const seconds = r.us / 1e6;
    return {
      answered: r.answered,
      issued: r.issued,
      soldOut: r.sold,
      alreadyIssued: r.already,
      unavailable: r.unavailable,
      other: r.other,
      errors: r.errors,
      seconds,
      requestsPerS: r.answered / seconds,
      meanMs: r.mean / 1000,
      p50Ms: r.p50 / 1000,
      p95Ms: r.p95 / 1000,
      p99Ms: r.p99 / 1000,
      maxMs: r.max / 1000,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
