/**
 * The Redis issuer rebuilds a campaign's keys from Postgres, the source of
 * truth (SPEC §5; issue #6), when Redis does not have them: never loaded,
 * flushed, or the user set gone (its 24 h expiry) while the count remains.
 */
import assert from "node:assert/strict";
import { infraConfig } from "../../../kit/env.ts";
import { redisClient, removeCampaigns } from "../../../tests/coupon/support.ts";
import type { Sql } from "../../../db/mod.ts";
import { storeGrants } from "../campaign_store.ts";
import { couponFixture } from "../testing.ts";
import { RedisIssuer } from "./issuer.ts";
import { campaignKeys } from "./keys.ts";
import { connectRedis } from "./redis.ts";
import type { ScriptedRedis } from "./scripts.ts";
import { insertOpenCampaign } from "./testing.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** Calls made through an object's methods (the real client still answers each). */
interface Counted<T> {
  target: T;
  calls: number;
}

/** `target` with every method call counted: a real Redis client or Postgres pool, observed. */
function counted<T extends object>(target: T): Counted<T> {
  const c = { calls: 0 } as Counted<T>;
  c.target = new Proxy(target, {
    apply(t, self, args) {
      c.calls++;
      return Reflect.apply(t as (...a: unknown[]) => unknown, self, args);
    },
    get(t, name) {
      const v = Reflect.get(t, name, t);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        c.calls++;
        return v.apply(t, args);
      };
    },
  });
  return c;
}

/** An issuer on its own, connected Redis client (seen through `observe`); `using` ends both. */
async function issuerOn(sql: Sql, observe: (r: ScriptedRedis) => ScriptedRedis = (r) => r) {
  const client = connectRedis({ ...infraConfig().redis, timeoutMs: 2_000 }, "issuer-test");
  // It connects in the background and fails commands until then (no offline queue).
  if (client.status !== "ready") await new Promise((ok) => client.once("ready", ok));
  const issuer = new RedisIssuer({
    redis: observe(client),
    sql,
    log: quiet,
    breakerOpenMs: 1_000,
  });
  return {
    issuer,
    [Symbol.dispose]() {
      issuer.shutdown();
      client.disconnect();
    },
  };
}

/** The keys Redis holds that match `pattern` (SCAN, not KEYS: Redis is shared). */
async function keysMatching(redis: ReturnType<typeof redisClient>, pattern: string) {
  let cursor = "0";
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 10_000);
    cursor = next;
    n += keys.length;
  } while (cursor !== "0");
  return n;
}

/** Runs `work(i)` for i in [0, n) with at most `parallel` at once. */
async function inParallel(n: number, parallel: number, work: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

Deno.test("issuer: a campaign Redis lost is rebuilt from the database before deciding", async () => {
  await using f = await couponFixture();
  const ids: string[] = [];
  const redis = redisClient();
  using i = await issuerOn(f.sql);
  const issuer = i.issuer;
  try {
    const id = f.couponId();
    ids.push(id);
    const c = await insertOpenCampaign(f.sql, { id, name: "rebuild test", total: 3 });
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
    redis.disconnect();
    await removeCampaigns(ids);
  }
});

Deno.test("issuer: 100,000 random campaign ids are 404 with bounded memory, no Redis keys, one Redis call each", async () => {
  await using f = await couponFixture();
  const redis = redisClient();
  const pg = counted(f.sql);
  let rc: Counted<ScriptedRedis> = { target: {} as ScriptedRedis, calls: 0 };
  using i = await issuerOn(pg.target, (r) => (rc = counted(r)).target);
  const prefix = `flood-${crypto.randomUUID().slice(0, 8)}`;
  const N = 100_000;
  const user = f.userId();
  let notFound = 0;
  let largestMaps = 0;
  try {
    await inParallel(N, 32, async (n) => {
      const d = await i.issuer.issue(`${prefix}-${n}`, user);
      if (d.result === "unknown_campaign") notFound++;
      if (n % 1_000 === 0) {
        const m = i.issuer.cachedEntries();
        largestMaps = Math.max(largestMaps, m.unknown + m.rebuilding);
      }
    });
    const after = i.issuer.cachedEntries();
    assert.equal(notFound, N, "every random id is answered unknown_campaign (404)");
    assert.ok(
      after.unknown <= 10_000 && largestMaps <= 10_000 + 32,
      `the issuer's maps stay bounded: ${JSON.stringify(after)}, largest seen ${largestMaps} ` +
        `(${rc.calls} Redis calls, ${pg.calls} queries)`,
    );
    assert.equal(await keysMatching(redis, `{campaign:${prefix}-*`), 0, "no Redis keys left");
    assert.ok(rc.calls <= N, `at most one Redis call per miss: ${rc.calls} for ${N}`);
    assert.ok(pg.calls <= N, `at most one query per miss: ${pg.calls} for ${N}`);

    // A miss seen a moment ago costs one Redis call and no query.
    const [redisBefore, pgBefore] = [rc.calls, pg.calls];
    for (let n = N - 100; n < N; n++) {
      assert.equal((await i.issuer.issue(`${prefix}-${n}`, user)).result, "unknown_campaign");
    }
    assert.equal(rc.calls - redisBefore, 100, "one Redis call per remembered miss");
    assert.equal(pg.calls - pgBefore, 0, "no query for a remembered miss");
  } finally {
    redis.disconnect();
  }
});

Deno.test("issuer: a campaign created right after a 404 is served at once, on every instance", async () => {
  await using f = await couponFixture();
  const ids: string[] = [];
  const redis = redisClient();
  using a = await issuerOn(f.sql);
  using b = await issuerOn(f.sql);
  try {
    const [alice, bob, carol] = [f.userId(), f.userId(), f.userId()];
    const id = f.couponId();
    ids.push(id);
    // Both instances answer 404 (and remember the miss).
    assert.deepEqual(await a.issuer.issue(id, alice), { result: "unknown_campaign" });
    assert.deepEqual(await b.issuer.issue(id, alice), { result: "unknown_campaign" });
    const c = await insertOpenCampaign(f.sql, { id, name: "created after a miss", total: 10 });
    await a.issuer.campaignCreated(c); // POST /admin/campaigns on instance a
    assert.equal((await a.issuer.issue(id, alice)).result, "issued");
    assert.equal((await b.issuer.issue(id, bob)).result, "issued", "the other instance at once");

    // Keys missing in Redis (created while Redis was away, or lost since): served
    // as soon as the remembered miss expires.
    const late = f.couponId();
    ids.push(late);
    assert.deepEqual(await b.issuer.issue(late, alice), { result: "unknown_campaign" });
    const created = Date.now();
    await insertOpenCampaign(f.sql, { id: late, name: "keys never loaded", total: 10 });
    while ((await b.issuer.issue(late, carol)).result === "unknown_campaign") {
      await new Promise((r) => setTimeout(r, 50));
    }
    const waited = Date.now() - created;
    assert.ok(waited < 2_000, `served ${waited} ms after its creation`);
    assert.equal(await redis.hget(campaignKeys(late).state, "issued"), "1");
  } finally {
    redis.disconnect();
    await removeCampaigns(ids); // their rows and Redis keys
  }
});
