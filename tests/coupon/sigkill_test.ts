/**
 * A coupon process SIGKILLed in the middle of a burst (issue #6): grants it
 * had read from the campaign's stream but not yet acknowledged are taken
 * over by another instance (XAUTOCLAIM), grants it never read are read by
 * it, and every grant Redis made ends as exactly one coupon row with one
 * CouponIssued event.
 */
import assert from "node:assert/strict";
import { runBurst, writeTokens } from "../../bench/coupon_load.ts";
import { jwtSecret } from "../../kit/env.ts";
import { campaignKeys, GRANT_GROUP } from "../../services/coupon/issuance/keys.ts";
import { connectAdmin } from "../../db/connect.ts";
import { eventually, sleep } from "../support/dev.ts";
import {
  adminToken,
  couponProcess,
  createCampaign,
  redisClient,
  removeCampaigns,
  stored,
} from "./support.ts";

Deno.test("sigkill: a coupon process killed mid-burst → every Redis grant becomes exactly one row", async () => {
  const env = { COUPON_GRANT_CLAIM_IDLE_MS: "1000" };
  const first = couponProcess({ env, name: "coupon-a" }).start();
  const second = couponProcess({ env, name: "coupon-b" });
  const redis = redisClient();
  const campaigns: string[] = [];
  const dir = await Deno.makeTempDir({ prefix: "coupon-kill-test-" });
  const stop = new AbortController();
  try {
    const run = Date.now().toString(36);
    const users = Array.from({ length: 8_000 }, (_, i) => `kill-${run}-${i}`);
    const tokensFile = await writeTokens(dir, users, jwtSecret());
    await first.ready(60_000);
    const total = 4_000;
    const id = await createCampaign(first.port, await adminToken(), { total });
    campaigns.push(id);
    const k = campaignKeys(id);
    const burst = runBurst({
      baseUrl: `http://127.0.0.1:${first.port}`,
      campaignId: id,
      tokensFile,
      requests: 12_000,
      connections: 32,
      maxSeconds: 30,
      signal: stop.signal,
    });

    await eventually(
      "a quarter granted",
      async () => {
        const n = Number(await redis.hget(k.state, "issued"));
        return n >= total / 4 ? n : undefined;
      },
      30_000,
      2,
    );
    // Freeze it at a moment it holds grants read but not acknowledged, then kill it.
    let pending = 0;
    for (let i = 0; i < 500 && pending === 0; i++) {
      first.signal("SIGSTOP");
      pending = (await redis.xpending(k.grants, GRANT_GROUP) as [number])[0];
      if (pending === 0) {
        first.signal("SIGCONT");
        await sleep(2);
      }
    }
    await first.kill();
    stop.abort();
    const grantedAtKill = Number(await redis.hget(k.state, "issued"));
    const storedAtKill = (await stored(id)).rows;
    const r = await burst;
    console.log(
      `  killed with ${grantedAtKill} granted, ${storedAtKill} stored, ${pending} read but ` +
        `not acknowledged; wrk saw ${r.issued} issued of ${r.answered} answered`,
    );
    assert.ok(pending > 0, "the process held no unacknowledged grant when killed");
    assert.ok(storedAtKill < grantedAtKill);

    // Another instance takes over: new grants, and the dead one's pending ones after 1 s.
    second.start();
    await second.ready(60_000);
    const grants = await redis.xlen(k.grants);
    assert.equal(grants, grantedAtKill);
    await eventually(
      "every grant stored and acknowledged",
      async () => {
        const s = await stored(id);
        const left = (await redis.xpending(k.grants, GRANT_GROUP) as [number])[0];
        return s.rows === grants && left === 0 ? s : undefined;
      },
      30_000,
      50,
    );
    assert.deepEqual(await stored(id), {
      issued: grants,
      rows: grants,
      users: grants,
      events: grants,
    });

    // The very coupons Redis promised: the stream's coupon ids are the rows' ids.
    const entries = await redis.xrange(k.grants, "-", "+") as [string, string[]][];
    const promised = entries.map(([, f]) => f[f.indexOf("coupon") + 1]).sort();
    const sql = connectAdmin({ max: 1 });
    try {
      const rows = await sql<{ id: string }[]>`
        select id from coupons.coupons where campaign_id = ${id} order by id`;
      assert.deepEqual(rows.map((x) => x.id).sort(), promised);
    } finally {
      await sql.end();
    }
  } catch (err) {
    console.error(first.logs(), second.logs());
    throw err;
  } finally {
    stop.abort();
    redis.disconnect();
    await first.kill();
    await second.stop();
    await removeCampaigns(campaigns);
    await Deno.remove(dir, { recursive: true });
  }
});
