/**
 * The grant worker against the real Redis and Postgres (SPEC §5.2.2): grants
 * in a campaign's stream become rows; the ones the database refuses are
 * compensated in Redis exactly once — a user who holds the coupon already
 * gives the count back, a campaign at its total in the database drops the
 * user — and every grant is acknowledged.
 */
import assert from "node:assert/strict";
import { infraConfig } from "../../../kit/env.ts";
import { redisClient, removeCampaigns, stored } from "../../../tests/coupon/support.ts";
import { eventually } from "../../../tests/support/dev.ts";
import { storeGrants } from "../campaign_store.ts";
import { couponFixture } from "../testing.ts";
import { GrantWorker } from "./grant_worker.ts";
import { campaignKeys, GRANT_GROUP } from "./keys.ts";
import { connectRedis } from "./redis.ts";
import { insertOpenCampaign } from "./testing.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

Deno.test("grant worker: stores grants, compensates the database's refusals once", async () => {
  await using f = await couponFixture();
  const ids: string[] = [];
  const redis = redisClient();
  const workerRedis = connectRedis({ ...infraConfig().redis, timeoutMs: 2_000 }, "worker-test");
  const worker = new GrantWorker({
    redis: workerRedis,
    sql: f.sql,
    log: quiet,
    consumer: "worker-test",
    batch: 10,
    claimIdleMs: 1_000,
    pollMs: 20,
  });
  try {
    const id = f.couponId();
    ids.push(id);
    const c = await insertOpenCampaign(f.sql, { id, name: "worker test", total: 2 });
    // The database holds alice's coupon; Redis (as after losing data) over-counted.
    const [alice, bob, carol, dave] = [f.userId(), f.userId(), f.userId(), f.userId()];
    const held = crypto.randomUUID();
    await storeGrants(f.sql, c, [{ couponId: held, userId: alice }]);
    const k = campaignKeys(id);
    await redis.hset(k.state, { total: 2, starts: 0, ends: Date.now() + 3_600_000, issued: 4 });
    await redis.sadd(k.users, alice, bob, carol, dave);
    const coupon: Record<string, string> = {};
    for (const u of [alice, bob, carol, dave]) {
      coupon[u] = crypto.randomUUID();
      await redis.xadd(k.grants, "*", "user", u, "coupon", coupon[u]);
    }

    worker.start();
    worker.wake(id);
    await eventually(
      "every grant acknowledged",
      async () => {
        const pending = (await redis.xpending(k.grants, GRANT_GROUP) as [number])[0];
        const info = await redis.xinfo("GROUPS", k.grants) as unknown[][];
        const lag = info.length > 0 && pending === 0 && worker.counts.stored === 1;
        return lag ? true : undefined;
      },
      10_000,
      20,
    );
    assert.deepEqual(await stored(id), { issued: 2, rows: 2, users: 2, events: 2 });
    assert.deepEqual(
      { ...worker.counts, failures: 0 },
      { stored: 1, alreadyStored: 0, duplicates: 1, soldOut: 2, failures: 0 },
    );
    // alice gave the count back (4 → 3) and keeps her place; carol and dave are dropped.
    assert.equal(await redis.hget(k.state, "issued"), "3");
    assert.deepEqual((await redis.smembers(k.users)).sort(), [alice, bob].sort());
    const rows = await f.sql<{ id: string; user_id: string }[]>`
      select id, user_id from coupons where campaign_id = ${id} order by user_id`;
    assert.deepEqual(
      rows.map((r) => [r.user_id, r.id]).sort(),
      [[alice, held], [bob, coupon[bob]]].sort(),
    );
  } finally {
    await worker.stop();
    workerRedis.disconnect();
    redis.disconnect();
    await removeCampaigns(ids);
  }
});

Deno.test("grant worker: a Redis count below the database's is raised to it", async () => {
  await using f = await couponFixture();
  const ids: string[] = [];
  const redis = redisClient();
  const workerRedis = connectRedis({ ...infraConfig().redis, timeoutMs: 2_000 }, "worker-test");
  const worker = new GrantWorker({
    redis: workerRedis,
    sql: f.sql,
    log: quiet,
    consumer: "worker-test",
    batch: 10,
    claimIdleMs: 1_000,
    pollMs: 20,
  });
  try {
    const id = f.couponId();
    ids.push(id);
    const c = await insertOpenCampaign(f.sql, { id, name: "worker raise test", total: 5 });
    // Two coupons stored whose grants Redis lost (a kill inside the AOF's fsync second).
    await storeGrants(f.sql, c, [
      { couponId: crypto.randomUUID(), userId: f.userId() },
      { couponId: crypto.randomUUID(), userId: f.userId() },
    ]);
    const k = campaignKeys(id);
    const carol = f.userId();
    await redis.hset(k.state, { total: 5, starts: 0, ends: Date.now() + 3_600_000, issued: 1 });
    await redis.sadd(k.users, carol);
    await redis.xadd(k.grants, "*", "user", carol, "coupon", crypto.randomUUID());
    worker.start();
    worker.wake(id);
    await eventually(
      "the grant stored",
      () => Promise.resolve(worker.counts.stored === 1 ? true : undefined),
      10_000,
      20,
    );
    await eventually(
      "the count raised",
      async () => await redis.hget(k.state, "issued") === "3" ? true : undefined,
      5_000,
      20,
    );
    assert.deepEqual(await stored(id), { issued: 3, rows: 3, users: 3, events: 3 });
  } finally {
    await worker.stop();
    workerRedis.disconnect();
    redis.disconnect();
    await removeCampaigns(ids);
  }
});
