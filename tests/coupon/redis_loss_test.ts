/**
 * Postgres is the source of truth (SPEC §5; issue #6): Redis losing its data
 * in the middle of a burst — flushed, or killed and restarted (its AOF is
 * fsynced once a second, so the last second is lost) — never issues more
 * than the campaign's total, no user ever holds two, and once Redis is back
 * and demand remains, exactly the total is issued. While Redis is down the
 * issue endpoint answers 503 with Retry-After at once.
 */
import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import { type BurstResult, runBurst, writeTokens } from "../../bench/coupon_load.ts";
import { jwtSecret } from "../../kit/env.ts";
import { campaignKeys, GRANT_GROUP } from "../../services/coupon/issuance/keys.ts";
import { dev, eventually, sleep } from "../support/dev.ts";
import type { ManagedProcess } from "../support/process.ts";
import {
  adminToken,
  call,
  couponProcess,
  createCampaign,
  redisClient,
  removeCampaigns,
  type Stored,
  stored,
  userToken,
} from "./support.ts";

const TOTAL = 1_500;
const USERS = 4_000;

/** Runs two bursts around `disrupt` (called once Redis counts a third of the total). */
async function scenario(
  name: string,
  disrupt: (proc: ManagedProcess, redis: Redis) => Promise<void>,
  firstConnections: number,
): Promise<void> {
  const proc = couponProcess({
    env: { COUPON_REDIS_BREAKER_OPEN_MS: "500", COUPON_GRANT_CLAIM_IDLE_MS: "1000" },
  }).start();
  let redis = redisClient();
  const campaigns: string[] = [];
  const dir = await Deno.makeTempDir({ prefix: "coupon-loss-test-" });
  let maxRows = 0;
  let watching = true;
  try {
    const run = Date.now().toString(36);
    const users = Array.from({ length: USERS }, (_, i) => `${name}-${run}-${i}`);
    const tokensFile = await writeTokens(dir, users, jwtSecret());
    await proc.ready(60_000);
    const admin = await adminToken();
    const id = await createCampaign(proc.port, admin, { total: TOTAL });
    campaigns.push(id);
    const k = campaignKeys(id);
    const burst = (requests: number, connections: number): Promise<BurstResult> =>
      runBurst({
        baseUrl: `http://127.0.0.1:${proc.port}`,
        campaignId: id,
        tokensFile,
        requests,
        connections,
        maxSeconds: 40,
      });
    // The database never holds more than the total, at any moment.
    const watcher = (async () => {
      while (watching) {
        maxRows = Math.max(maxRows, (await stored(id)).rows);
        await sleep(25);
      }
    })();

    const first = burst(12_000, firstConnections);
    await eventually(
      "a third of the coupons granted",
      async () => {
        const n = Number(await redis.hget(k.state, "issued"));
        return n >= TOTAL / 3 ? n : undefined;
      },
      30_000,
      2,
    );
    await disrupt(proc, redis);
    const r1 = await first;
    // Redis is back: wait until the service uses it again, then demand continues.
    redis.disconnect();
    redis = redisClient();
    await eventually(
      "issuance to answer again",
      async () => {
        const view = await call(proc.port, admin, "GET", `/admin/campaigns/${id}`);
        return view.body.granted !== null ? true : undefined;
      },
      30_000,
      100,
    );
    const r2 = await burst(12_000, 32);
    console.log(
      `  ${name}: first burst ${JSON.stringify(r1)}\n  second burst ${JSON.stringify(r2)}`,
    );

    const done = await eventually(
      "exactly the total stored",
      async () => {
        const s = await stored(id);
        const pending = (await redis.xpending(k.grants, GRANT_GROUP) as [number])[0];
        return s.rows === TOTAL && pending === 0 ? s : undefined;
      },
      30_000,
      50,
    );
    await sleep(300); // nothing more arrives
    const expected: Stored = { issued: TOTAL, rows: TOTAL, users: TOTAL, events: TOTAL };
    assert.deepEqual(done, expected);
    assert.deepEqual(await stored(id), expected);
    watching = false;
    await watcher;
    assert.ok(maxRows <= TOTAL, `the database held ${maxRows} coupons`);
    // Every request was answered; the ones during the outage with 503.
    for (const r of [r1, r2]) {
      assert.equal(r.errors + r.other, 0, JSON.stringify(r));
      assert.equal(r.answered, 12_000);
    }
    // Redis agrees with the database again.
    assert.equal(Number(await redis.hget(k.state, "issued")), TOTAL);
  } catch (err) {
    console.error(proc.logs());
    throw err;
  } finally {
    watching = false;
    redis.disconnect();
    await proc.stop();
    await removeCampaigns(campaigns);
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("redis loss: FLUSHALL mid-burst → rebuilt from Postgres, exactly the total issued", async () => {
  await scenario("flush", async (_proc, redis) => {
    await redis.flushall();
  }, 32);
});

Deno.test("redis loss: Redis killed and restarted mid-burst → 503 meanwhile, exactly the total", async () => {
  await scenario("restart", async (proc, redis) => {
    redis.disconnect();
    await dev("redis", "kill");
    try {
      // Down: answered at once with 503 and Retry-After, never hanging.
      const token = await userToken(`restart-probe-${crypto.randomUUID()}`);
      const started = Date.now();
      const res = await call(proc.port, token, "POST", "/coupons/issue", { campaignId: "any" });
      assert.equal(res.status, 503);
      assert.ok(Number(res.headers.get("Retry-After")) >= 1);
      assert.equal(
        res.body.error && (res.body.error as { code: string }).code,
        "coupon_issuance_unavailable",
      );
      assert.ok(Date.now() - started < 1_000, `answered after ${Date.now() - started} ms`);
      await sleep(500);
    } finally {
      await dev("redis", "up");
    }
    // Fewer connections: `./dev redis kill` takes a moment, the burst must still be on.
  }, 2);
});
