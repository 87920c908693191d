/**
 * Issue #6's acceptance (SPEC §6.3.2): 50,000 requests from 20,000 users for
 * 1,000 coupons, driven by wrk against a real coupon process, real Redis and
 * Postgres → exactly 1,000 coupon rows and 1,000 CouponIssued events, no
 * user with two, every other request answered sold out or already issued.
 * And the WebSocket: a user is told when their coupon is stored, or that the
 * campaign is sold out.
 */
import assert from "node:assert/strict";
import { jwtSecret } from "../../kit/env.ts";
import { runBurst, writeTokens } from "../../bench/coupon_load.ts";
import { campaignKeys, GRANT_GROUP } from "../../services/coupon/issuance/keys.ts";
import { eventually } from "../support/dev.ts";
import {
  adminToken,
  call,
  couponProcess,
  createCampaign,
  redisClient,
  removeCampaigns,
  stored,
  userToken,
} from "./support.ts";

Deno.test("burst: 50,000 requests, 20,000 users, 1,000 coupons → exactly 1,000 issued", async () => {
  const proc = couponProcess().start();
  const redis = redisClient();
  const campaigns: string[] = [];
  const dir = await Deno.makeTempDir({ prefix: "coupon-burst-test-" });
  try {
    const run = Date.now().toString(36);
    const users = Array.from({ length: 20_000 }, (_, i) => `burst-${run}-${i}`);
    const tokensFile = await writeTokens(dir, users, jwtSecret());
    await proc.ready(60_000);
    const id = await createCampaign(proc.port, await adminToken(), { total: 1_000 });
    campaigns.push(id);

    const r = await runBurst({
      baseUrl: `http://127.0.0.1:${proc.port}`,
      campaignId: id,
      tokensFile,
      requests: 50_000,
      maxSeconds: 60,
    });
    console.log(
      `  50,000 requests in ${r.seconds.toFixed(2)} s: ${Math.round(r.requestsPerS)} req/s, ` +
        `mean ${r.meanMs.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, max ${
          r.maxMs.toFixed(1)
        } ms`,
    );
    assert.equal(r.answered, 50_000);
    assert.equal(r.errors, 0);
    assert.equal(r.issued, 1_000);
    assert.equal(r.issued + r.soldOut + r.alreadyIssued, 50_000, JSON.stringify(r));

    const k = campaignKeys(id);
    await eventually(
      "every grant stored",
      async () => {
        const s = await stored(id);
        const pending = (await redis.xpending(k.grants, GRANT_GROUP) as [number])[0];
        return s.rows === 1_000 && pending === 0 ? s : undefined;
      },
      30_000,
      50,
    );
    assert.deepEqual(await stored(id), { issued: 1_000, rows: 1_000, users: 1_000, events: 1_000 });
    assert.equal(Number(await redis.hget(k.state, "issued")), 1_000);
    assert.equal(await redis.xlen(k.grants), 1_000);
    assert.equal(await redis.scard(k.users), 1_000);
  } catch (err) {
    console.error(proc.logs());
    throw err;
  } finally {
    redis.disconnect();
    await proc.stop();
    await removeCampaigns(campaigns);
    await Deno.remove(dir, { recursive: true });
  }
});

interface Notice {
  type: string;
  campaignId: string;
  couponId?: string;
}

async function socket(port: number, userId: string): Promise<{ ws: WebSocket; notices: Notice[] }> {
  const token = await userToken(userId);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/coupons/ws`, ["bearer", token]);
  const notices: Notice[] = [];
  ws.onmessage = (e) => notices.push(JSON.parse(e.data));
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  return { ws, notices };
}

Deno.test("burst: the WebSocket tells a user their coupon is stored, or sold out", async () => {
  const proc = couponProcess().start();
  const campaigns: string[] = [];
  const sockets: WebSocket[] = [];
  try {
    await proc.ready(60_000);
    const id = await createCampaign(proc.port, await adminToken(), { total: 1 });
    campaigns.push(id);
    const [winner, loser] = [`ws-${crypto.randomUUID()}`, `ws-${crypto.randomUUID()}`];
    const w = await socket(proc.port, winner);
    const l = await socket(proc.port, loser);
    sockets.push(w.ws, l.ws);

    const first = await call(proc.port, await userToken(winner), "POST", "/coupons/issue", {
      campaignId: id,
    });
    assert.equal(first.status, 202);
    const second = await call(proc.port, await userToken(loser), "POST", "/coupons/issue", {
      campaignId: id,
    });
    assert.equal(second.status, 409);

    await eventually(
      "the winner is told",
      () => Promise.resolve(w.notices.length > 0 ? true : undefined),
      10_000,
      20,
    );
    assert.deepEqual(w.notices, [{
      type: "CouponStored",
      campaignId: id,
      userId: winner,
      couponId: first.body.couponId,
    }]);
    await eventually(
      "the loser is told",
      () => Promise.resolve(l.notices.length > 0 ? true : undefined),
      10_000,
      20,
    );
    assert.deepEqual(l.notices, [{ type: "CouponSoldOut", campaignId: id, userId: loser }]);
    // A socket without a token is refused.
    const res = await fetch(`http://127.0.0.1:${proc.port}/coupons/ws`);
    assert.equal(res.status, 401);
    await res.body?.cancel();
  } finally {
    for (const ws of sockets) ws.close();
    await proc.stop();
    await removeCampaigns(campaigns);
  }
});
