/**
 * The Redis issuer rebuilds a campaign's keys from Postgres, the source of
 * truth (SPEC §5; issue #6), when Redis does not have them: never loaded,
 * flushed, or the user set gone (its 24 h expiry) while the count remains.
 */
import assert from "node:assert/strict";
import { infraConfig } from "../../../kit/env.ts";
import { redisClient, removeCampaigns } from "../../../tests/coupon/support.ts";
import { insertCampaign, storeGrants } from "../campaign_store.ts";
import { couponFixture } from "../testing.ts";
import { RedisIssuer } from "./issuer.ts";
import { campaignKeys } from "./keys.ts";
import { connectRedis } from "./redis.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

Deno.test("issuer: a campaign Redis lost is rebuilt from the database before deciding", async () => {
  await using f = await couponFixture();
  const ids: string[] = [];
  const redis = redisClient();
  const client = connectRedis({ ...infraConfig().redis, timeoutMs: 1_000 }, "issuer-test");
  const issuer = new RedisIssuer({ redis: client, sql: f.sql, log: quiet, breakerOpenMs: 1_000 });
  try {
    const id = f.couponId();
    ids.push(id);
    const c = await insertCampaign(f.sql, {
      id,
      name: "rebuild test",
      total: 3,
      discount: 1000,
      startsAt: new Date(Date.now() - 1_000),
      endsAt: new Date(Date.now() + 3_600_000),
      couponExpiresAt: null,
    });
    assert.ok(c);
    const [alice, bob, carol, dave] = [f.userId(), f.userId(), f.userId(), f.userId()];
    // Two coupons stored; Redis knows nothing of the campaign.
    await storeGrants(f.sql, c, [
      { couponId: crypto.randomUUID(), userId: alice },
      { couponId: crypto.randomUUID(), userId: bob },
    ]);
    const k = campaignKeys(id);
    assert.equal(await redis.exists(k.state), 0);
    assert.deepEqual(await issuer.issue(id, alice), { result: "already_issued" });
    assert.equal(issuer.rebuilds, 1);
    assert.equal(await redis.hget(k.state, "issued"), "2");
    assert.equal((await issuer.issue(id, carol)).result, "issued");
    assert.deepEqual(await issuer.issue(id, dave), { result: "sold_out" });

    // The user set alone lost (the count remains): rebuilt too, the higher count kept.
    await redis.del(k.users);
    assert.deepEqual(await issuer.issue(id, bob), { result: "already_issued" });
    assert.equal(issuer.rebuilds, 2);
    assert.equal(await redis.hget(k.state, "issued"), "3");
    assert.deepEqual(await issuer.issue(id, dave), { result: "sold_out" });

    // Unknown campaigns are answered as such (and remembered for a moment).
    assert.deepEqual(await issuer.issue(f.couponId(), alice), { result: "unknown_campaign" });
  } finally {
    issuer.shutdown();
    client.disconnect();
    redis.disconnect();
    await removeCampaigns(ids);
  }
});
