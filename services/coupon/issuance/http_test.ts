/**
 * Issue requests through the coupon HTTP API (`app.request`, no server)
 * against the real Redis and Postgres (SPEC §5, §12.2): the decisions and
 * their answers, the refusals that issue nothing (window, unknown campaign,
 * bad bodies, missing auth), an issued coupon stored by the grant worker and
 * used in an order (the saga's coupon step), and the Redis breaker answering
 * 503 + Retry-After at once while Redis cannot be reached.
 */
import assert from "node:assert/strict";
import { infraConfig } from "../../../kit/env.ts";
import { issueToken } from "../../../kit/mod.ts";
import { removeCampaigns, stored } from "../../../tests/coupon/support.ts";
import { eventually } from "../../../tests/support/dev.ts";
import { handleCouponUsageRequested as use } from "../handlers/coupon_usage_requested.ts";
import { couponHttp } from "../http.ts";
import { type CouponFixture, couponFixture } from "../testing.ts";
import { GrantWorker } from "./grant_worker.ts";
import { RedisIssuer } from "./issuer.ts";
import { campaignKeys } from "./keys.ts";
import { connectRedis } from "./redis.ts";

const SECRET = crypto.randomUUID() + crypto.randomUUID();
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const admin = await issueToken(SECRET, { sub: "ops-1", roles: ["admin"] }, 300);
const tokenOf = (userId: string) => issueToken(SECRET, { sub: userId }, 300);
const { redis: redisAddress } = infraConfig();

/** The app with a Redis issuer (and, with `worker`, the grant worker) for one test. */
async function withApp(
  f: CouponFixture,
  fn: (
    http: (m: string, p: string, o?: { token?: string; body?: unknown; raw?: string }) => Promise<
      Response
    >,
    campaigns: string[],
    issuer: RedisIssuer,
  ) => Promise<void>,
  opts: { worker?: boolean; port?: number } = {},
): Promise<void> {
  const redis = connectRedis(
    { ...redisAddress, port: opts.port ?? redisAddress.port, timeoutMs: 500 },
    "issue-test",
  );
  const issuer = new RedisIssuer({ redis, sql: f.sql, log: quiet, breakerOpenMs: 2_000 });
  const workerRedis = opts.worker ? connectRedis({ ...redisAddress, timeoutMs: 2_000 }, "w") : null;
  const worker = workerRedis
    ? new GrantWorker({
      redis: workerRedis,
      sql: f.sql,
      log: quiet,
      consumer: `test-${crypto.randomUUID().slice(0, 8)}`,
      batch: 50,
      claimIdleMs: 5_000,
      pollMs: 20,
    })
    : null;
  worker?.start();
  const app = couponHttp({ sql: f.sql, log: quiet, jwtSecret: SECRET, issuer });
  const campaigns: string[] = [];
  const http = async (
    method: string,
    path: string,
    o: { token?: string; body?: unknown; raw?: string } = {},
  ) =>
    await app.request(path, {
      method,
      headers: {
        ...(o.token ? { Authorization: `Bearer ${o.token}` } : {}),
        ...(o.body !== undefined || o.raw !== undefined
          ? { "Content-Type": "application/json" }
          : {}),
      },
      body: o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body)),
    });
  try {
    await fn(http, campaigns, issuer);
  } finally {
    await worker?.stop();
    workerRedis?.disconnect();
    issuer.shutdown();
    redis.disconnect();
    await removeCampaigns(campaigns);
  }
}

function campaignBody(id: string, over: Record<string, unknown> = {}) {
  return {
    id,
    name: `test ${id}`,
    total: 2,
    discount: 2500,
    endsAt: new Date(Date.now() + 3_600_000).toISOString(),
    ...over,
  };
}

Deno.test("issue: issued, already issued, sold out; stored once each and usable in an order", async () => {
  await using f = await couponFixture();
  await withApp(f, async (http, campaigns) => {
    const id = f.couponId();
    campaigns.push(id);
    const created = await http("POST", "/admin/campaigns", {
      token: admin,
      body: campaignBody(id),
    });
    assert.equal(created.status, 201);
    const view = await created.json();
    assert.equal(view.total, 2);
    assert.equal(view.issued, 0);
    assert.equal(view.granted, 0);
    assert.equal(view.window, "open");

    const [alice, bob, carol] = [f.userId(), f.userId(), f.userId()];
    const ask = async (user: string) =>
      await http("POST", "/coupons/issue", {
        token: await tokenOf(user),
        body: { campaignId: id },
      });

    const first = await ask(alice);
    assert.equal(first.status, 202);
    const issued = await first.json();
    assert.equal(issued.result, "issued");
    assert.equal(issued.campaignId, id);

    const again = await ask(alice);
    assert.equal(again.status, 409);
    assert.equal((await again.json()).error.code, "coupon_already_issued");
    assert.equal((await ask(bob)).status, 202);
    const late = await ask(carol);
    assert.equal(late.status, 409);
    assert.equal((await late.json()).error.code, "coupon_sold_out");

    // The worker stores both grants: a row and a CouponIssued each, the counter at 2.
    await eventually(
      "both grants stored",
      async () => {
        const s = await stored(id);
        return s.rows === 2 ? s : undefined;
      },
      10_000,
      50,
    );
    assert.deepEqual(await stored(id), { issued: 2, rows: 2, users: 2, events: 2 });
    const inspected = await (await http("GET", `/admin/campaigns/${id}`, { token: admin })).json();
    assert.equal(inspected.issued, 2);
    assert.equal(inspected.granted, 2);
    assert.equal(inspected.remaining, 0);
    const listed = await (await http("GET", "/admin/campaigns", { token: admin })).json();
    assert.ok(listed.campaigns.some((c: { id: string }) => c.id === id));

    // The coupon is the user's, and the order saga's coupon step can use it.
    const mine = await (await http("GET", "/coupons/me", { token: await tokenOf(alice) })).json();
    assert.equal(mine.coupons.length, 1);
    assert.equal(mine.coupons[0].id, issued.couponId);
    assert.equal(mine.coupons[0].discount, 2500);
    const orderId = f.orderId();
    await f.deliver(use, { orderId, userId: alice, couponId: issued.couponId });
    assert.deepEqual((await f.sent(orderId)).map((e) => [e.eventType, e.payload.discount]), [
      ["CouponUsed", 2500],
    ]);
  }, { worker: true });
});

Deno.test("issue: window, unknown campaign, bad bodies and missing auth are refused; nothing issued", async () => {
  await using f = await couponFixture();
  await withApp(f, async (http, campaigns) => {
    const soon = f.couponId();
    const over = f.couponId();
    campaigns.push(soon, over);
    const hour = 3_600_000;
    assert.equal(
      (await http("POST", "/admin/campaigns", {
        token: admin,
        body: campaignBody(soon, {
          startsAt: new Date(Date.now() + hour).toISOString(),
          endsAt: new Date(Date.now() + 2 * hour).toISOString(),
        }),
      })).status,
      201,
    );
    assert.equal(
      (await http("POST", "/admin/campaigns", {
        token: admin,
        body: campaignBody(over, {
          startsAt: new Date(Date.now() - 2 * hour).toISOString(),
          endsAt: new Date(Date.now() + 300).toISOString(),
        }),
      })).status,
      201,
    );
    await new Promise((r) => setTimeout(r, 400)); // `over` has ended now
    const token = await tokenOf(f.userId());
    const issue = (body: unknown, raw?: string, t: string | undefined = token) =>
      http("POST", "/coupons/issue", { token: t, body: raw === undefined ? body : undefined, raw });
    const code = async (res: Response) => [res.status, (await res.json()).error?.code];

    assert.deepEqual(await code(await issue({ campaignId: soon })), [409, "campaign_not_started"]);
    assert.deepEqual(await code(await issue({ campaignId: over })), [410, "campaign_ended"]);
    assert.deepEqual(await code(await issue({ campaignId: f.couponId() })), [
      404,
      "campaign_not_found",
    ]);
    assert.deepEqual(await code(await issue({})), [422, "validation_failed"]);
    assert.deepEqual(await code(await issue({ campaignId: 7 })), [422, "validation_failed"]);
    assert.deepEqual(await code(await issue({ campaignId: soon, extra: 1 })), [
      422,
      "validation_failed",
    ]);
    assert.deepEqual(await code(await issue({ campaignId: "has space" })), [
      422,
      "validation_failed",
    ]);
    assert.deepEqual(await code(await issue(undefined, "{not json")), [400, "bad_request"]);
    assert.deepEqual(await code(await issue({ campaignId: soon }, undefined, "")), [
      401,
      "unauthorized",
    ]);
    assert.deepEqual(await code(await issue({ campaignId: soon }, undefined, "a.b.c")), [
      401,
      "unauthorized",
    ]);
    const forged = await issueToken(crypto.randomUUID() + crypto.randomUUID(), { sub: "x" }, 60);
    assert.deepEqual(await code(await issue({ campaignId: soon }, undefined, forged)), [
      401,
      "unauthorized",
    ]);
    const textBody = await http("POST", "/coupons/issue", { token });
    assert.equal(textBody.status, 422);

    // Campaigns: admins only, and validated.
    assert.equal(
      (await http("POST", "/admin/campaigns", { token, body: campaignBody(f.couponId()) })).status,
      403,
    );
    const bad = await http("POST", "/admin/campaigns", {
      token: admin,
      body: campaignBody(f.couponId(), { total: 0, endsAt: "2000-01-01T00:00:00Z", x: 1 }),
    });
    assert.equal(bad.status, 422);
    assert.deepEqual(Object.keys((await bad.json()).error.fields).sort(), ["endsAt", "total", "x"]);
    const past = await http("POST", "/admin/campaigns", {
      token: admin,
      body: campaignBody(f.couponId(), { endsAt: "2000-01-01T00:00:00Z" }),
    });
    assert.deepEqual(await code(past), [422, "validation_failed"]);
    const dup = await http("POST", "/admin/campaigns", { token: admin, body: campaignBody(soon) });
    assert.deepEqual(await code(dup), [409, "campaign_exists"]);

    for (const id of [soon, over]) {
      assert.deepEqual(await stored(id), { issued: 0, rows: 0, users: 0, events: 0 });
    }
  });
});

Deno.test("issue: Redis unreachable → 503 with Retry-After at once, the breaker opens", async () => {
  await using f = await couponFixture();
  // A port nobody listens on: every Redis call fails at once.
  await withApp(f, async (http, _campaigns, issuer) => {
    const token = await tokenOf(f.userId());
    const started = Date.now();
    const answers: [number, string | null][] = [];
    for (let i = 0; i < 8; i++) {
      const res = await http("POST", "/coupons/issue", {
        token,
        body: { campaignId: "any-campaign" },
      });
      answers.push([res.status, res.headers.get("Retry-After")]);
      assert.equal((await res.json()).error.code, "coupon_issuance_unavailable");
    }
    assert.ok(Date.now() - started < 2_000, `8 answers took ${Date.now() - started} ms`);
    assert.ok(answers.every(([s, retry]) => s === 503 && Number(retry) >= 1), String(answers));
    assert.equal(issuer.breaker.state(), "open");
    assert.equal(answers.at(-1)![1], "2"); // the breaker's open time, 2 s
  }, { port: 1 });
});

Deno.test("issue: the keys of one campaign share a hash tag (Redis Cluster)", () => {
  const k = campaignKeys("c-1");
  const tag = (key: string) => /\{([^}]*)\}/.exec(key)?.[1];
  assert.equal(new Set([k.state, k.users, k.grants, k.rebuildLock].map(tag)).size, 1);
  assert.equal(tag(k.state), "campaign:c-1");
});
