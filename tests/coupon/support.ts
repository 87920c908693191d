/**
 * Helpers of the coupon burst's tests and benchmark (issue #6): an
 * issuance-only coupon process (no saga consumer, so it never answers the
 * saga's commands next to a real coupon service), campaigns through the
 * admin API, a Redis client, what the database holds of a campaign, and
 * clean-up of campaigns, their coupons, events and Redis keys.
 *
 * @module
 */
import { Redis } from "ioredis";
import { connectAdmin } from "../../db/connect.ts";
import { infraConfig, jwtSecret } from "../../kit/env.ts";
import { issueToken } from "../../kit/http/auth.ts";
import { campaignKeys } from "../../services/coupon/issuance/keys.ts";
import { ManagedProcess, testPort } from "../support/process.ts";

/** A coupon process deciding with `issuer`; extra settings in `env`. */
export function couponProcess(
  opts: {
    issuer?: "redis" | "pg-lock";
    env?: Record<string, string>;
    name?: string;
  } = {},
): ManagedProcess {
  return new ManagedProcess({
    name: opts.name ?? `coupon-${opts.issuer ?? "redis"}`,
    script: "services/coupon/main.ts",
    port: testPort(),
    env: {
      COUPON_SAGA_CONSUMER: "false",
      COUPON_ISSUER: opts.issuer ?? "redis",
      COUPON_INSTANCE_ID: `coupon-test-${crypto.randomUUID().slice(0, 8)}`,
      COUPON_DB_POOL_MAX: "10",
      ...opts.env,
    },
  }).withPortEnv("COUPON_HTTP_PORT");
}

export function adminToken(): Promise<string> {
  return issueToken(jwtSecret(), { sub: "coupon-test-admin", roles: ["admin"] }, 3_600);
}

export function userToken(userId: string): Promise<string> {
  return issueToken(jwtSecret(), { sub: userId }, 3_600);
}

/** A JSON call; the answer's status and body. */
export async function call(
  port: number,
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
    },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Creates a campaign (open now for an hour unless told); returns its id. */
export async function createCampaign(
  port: number,
  admin: string,
  c: { total: number; id?: string; startsAt?: Date; endsAt?: Date; discount?: number },
): Promise<string> {
  const id = c.id ?? `fcfs-${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 6)}`;
  const res = await call(port, admin, "POST", "/admin/campaigns", {
    id,
    name: `burst ${id}`,
    total: c.total,
    discount: c.discount ?? 3000,
    ...(c.startsAt ? { startsAt: c.startsAt.toISOString() } : {}),
    endsAt: (c.endsAt ?? new Date(Date.now() + 3_600_000)).toISOString(),
  });
  if (res.status !== 201) throw new Error(`campaign not created: ${JSON.stringify(res)}`);
  return id;
}

export function redisClient(): Redis {
  const { redis } = infraConfig();
  return new Redis({
    host: redis.host,
    port: redis.port,
    password: redis.password,
    maxRetriesPerRequest: 2,
  });
}

/** What the database holds of a campaign. */
export interface Stored {
  /** The campaign row's counter. */
  issued: number;
  /** Coupon rows, distinct users among them, CouponIssued events. */
  rows: number;
  users: number;
  events: number;
}

export async function stored(campaignId: string): Promise<Stored> {
  const sql = connectAdmin({ max: 1 });
  try {
    const [r] = await sql<{ issued: number; rows: number; users: number; events: number }[]>`
      select
        (select issued from coupons.campaigns where id = ${campaignId}) as issued,
        (select count(*)::int from coupons.coupons where campaign_id = ${campaignId}) as rows,
        (select count(distinct user_id)::int from coupons.coupons
          where campaign_id = ${campaignId}) as users,
        (select count(*)::int from coupons.outbox where event_type = 'CouponIssued'
          and payload->>'campaignId' = ${campaignId}) as events`;
    return r;
  } finally {
    await sql.end();
  }
}

/** Removes campaigns with their coupons, events and Redis keys. */
export async function removeCampaigns(ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const sql = connectAdmin({ max: 1 });
  const list = [...ids];
  try {
    await sql`delete from coupons.outbox where event_type = 'CouponIssued'
      and payload->>'campaignId' = any(${list})`;
    await sql`delete from coupons.usages where coupon_id in
      (select id from coupons.coupons where campaign_id = any(${list}))`;
    await sql`delete from coupons.coupons where campaign_id = any(${list})`;
    await sql`delete from coupons.campaigns where id = any(${list})`;
  } finally {
    await sql.end();
  }
  const redis = redisClient();
  try {
    for (const id of ids) {
      const k = campaignKeys(id);
      await redis.del(k.state, k.users, k.grants, k.rebuildLock);
    }
  } catch {
    /* Redis down: the keys expire with nobody reading them */
  } finally {
    redis.disconnect();
  }
}
