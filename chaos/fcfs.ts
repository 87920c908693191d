/**
 * First-come-first-served coupons in the chaos run (SPEC §5; the coupon
 * service's `POST /coupons/issue`): one campaign with fewer coupons than
 * users asking, issue requests at a steady rate through every fault, and
 * half of the users who got a coupon order with it at once. Afterwards:
 * never more coupons than the total, none twice for a user, every 202 has
 * its coupon row, exactly the total once it sold out, one CouponIssued per
 * coupon (and in Kafka, with the run's other events).
 *
 * @module
 */
import type postgres from "postgres";
import { sleep } from "../tests/support/dev.ts";
import { Client, type Suite } from "../tests/support/suite.ts";
import type { RunEvent } from "./checks.ts";
import { callOnce, callRetrying } from "./http.ts";
import { type PlacedOrder, placeOrder } from "./load.ts";
import type { World } from "./world.ts";

export interface Fcfs {
  campaignId: string;
  total: number;
  users: Client[];
  /** User → coupon id answered with 202. */
  issued: Map<string, string>;
  requests: number;
  soldOut: number;
  alreadyIssued: number;
  /** 503 while Redis restarts, or no answer: expected during faults. */
  unavailable: number;
  /** Answers that should never come. */
  unexpected: string[];
}

export async function createCampaign(
  suite: Suite,
  world: World,
  total: number,
  openForMs: number,
): Promise<Fcfs> {
  const campaignId = `${world.prefix}-campaign`;
  const res = await callRetrying(world.admin, [suite.coupon], "POST", "/admin/campaigns", {
    id: campaignId,
    name: `chaos ${world.run}`,
    total,
    discount: 100,
    endsAt: new Date(Date.now() + openForMs).toISOString(),
  });
  if (res.status !== 201 && res.status !== 409) {
    throw new Error(`campaign: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return {
    campaignId,
    total,
    users: Array.from({ length: total * 3 }, (_, i) => new Client(`${world.prefix}-f${i}`)),
    issued: new Map(),
    requests: 0,
    soldOut: 0,
    alreadyIssued: 0,
    unavailable: 0,
    unexpected: [],
  };
}

/** Issue requests at `ratePerS` until `stop`; orders with won coupons go to `placed`/`failed`. */
export async function runFcfs(
  suite: Suite,
  world: World,
  f: Fcfs,
  ratePerS: number,
  stop: AbortSignal,
  placed: PlacedOrder[],
  failed: string[],
): Promise<void> {
  if (ratePerS <= 0) return;
  const pending = new Set<Promise<void>>();
  const products = [...world.products].filter(([id, stock]) =>
    stock >= 1_000_000 && id !== world.probeProduct
  );
  const one = async (user: Client) => {
    f.requests++;
    let res;
    try {
      res = await callOnce<{ couponId?: string; error?: { code: string } }>(
        user,
        suite.coupon,
        "POST",
        "/coupons/issue",
        { campaignId: f.campaignId },
      );
    } catch {
      f.unavailable++;
      return;
    }
    const code = res.body?.error?.code;
    if (res.status === 202 && res.body.couponId) {
      const before = f.issued.get(user.userId);
      if (before && before !== res.body.couponId) {
        f.unexpected.push(`${user.userId} issued ${before} and ${res.body.couponId}`);
      }
      f.issued.set(user.userId, res.body.couponId);
      if (Math.random() < 0.5) {
        const r = await placeOrder(suite, { client: user, granted: 0, coupons: [] }, {
          items: [{ productId: products[0][0], quantity: 1 }],
          couponId: res.body.couponId,
        });
        if (typeof r === "string") failed.push(r);
        else placed.push(r);
      }
    } else if (res.status === 409 && code === "coupon_sold_out") f.soldOut++;
    else if (res.status === 409 && code === "coupon_already_issued") f.alreadyIssued++;
    else if (res.status === 503) f.unavailable++;
    else f.unexpected.push(`${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
  };
  const every = 1_000 / ratePerS;
  while (!stop.aborted) {
    const user = f.users[Math.floor(Math.random() * f.users.length)];
    const p = one(user).finally(() => pending.delete(p));
    pending.add(p);
    await sleep(every);
  }
  while (pending.size > 0) await Promise.all([...pending]);
}

/** The campaign's CouponIssued events: Kafka must hold them too. */
export function issuedEvents(sql: postgres.Sql, f: Fcfs): Promise<RunEvent[]> {
  return sql<RunEvent[]>`
    select 'coupons' as schema, event_id::text, event_type, topic, payload from coupons.outbox
    where event_type = 'CouponIssued' and payload->>'campaignId' = ${f.campaignId}`;
}

/** No over-issue, nothing lost: violations. Waits (≤ 60 s) for the grant worker first. */
export async function checkFcfs(
  sql: postgres.Sql,
  suite: Suite,
  world: World,
  f: Fcfs,
): Promise<string[]> {
  const v = [...f.unexpected.map((u) => `FCFS: unexpected answer ${u}`)];
  const until = Date.now() + 60_000;
  let view: { issued?: number; granted?: number } = {};
  while (Date.now() < until) {
    view = (await callRetrying<typeof view>(
      world.admin,
      [suite.coupon],
      "GET",
      `/admin/campaigns/${f.campaignId}`,
    )).body;
    if (view.issued === view.granted) break;
    await sleep(1_000);
  }
  if (view.issued !== view.granted) {
    v.push(`FCFS: ${view.granted} granted in Redis but ${view.issued} stored after 60 s`);
  }
  const rows = await sql<{ id: string; user_id: string }[]>`
    select id, user_id from coupons.coupons where campaign_id = ${f.campaignId}`;
  const [{ issued }] = await sql<{ issued: number }[]>`
    select issued from coupons.campaigns where id = ${f.campaignId}`;
  if (rows.length > f.total) v.push(`FCFS: ${rows.length} coupons issued of ${f.total}`);
  if (issued !== rows.length) v.push(`FCFS: campaign says ${issued} issued, ${rows.length} rows`);
  if (new Set(rows.map((r) => r.user_id)).size !== rows.length) v.push("FCFS: a user has two");
  if (f.soldOut > 0 && rows.length !== f.total) {
    v.push(`FCFS: answered sold out, but ${rows.length} of ${f.total} coupons issued`);
  }
  const byId = new Map(rows.map((r) => [r.id, r.user_id]));
  const lost = [...f.issued].filter(([user, id]) => byId.get(id) !== user);
  if (lost.length) {
    v.push(`FCFS: ${lost.length} coupons answered 202 but not stored, e.g. ${lost[0][1]}`);
  }
  const events = await issuedEvents(sql, f);
  const perCoupon = new Set(events.map((e) => String(e.payload.couponId)));
  if (events.length !== rows.length || rows.some((r) => !perCoupon.has(r.id))) {
    v.push(`FCFS: ${events.length} CouponIssued events for ${rows.length} coupons`);
  }
  return v;
}
