/**
 * A small first-come-first-served burst for the demo (issue #6): creates a
 * campaign on a running coupon service, sends `requests` issue requests from
 * `users` users, `concurrency` at a time (in-process fetch, no wrk needed),
 * then waits until the grants are stored in Postgres and reports.
 *
 *   ./dev deno run -A bench/coupon_burst.ts     (the coupon service must be running)
 *
 * @module
 */
import { envInt, jwtSecret } from "../kit/env.ts";
import { issueToken } from "../kit/http/auth.ts";

export interface CouponBurstResult {
  campaignId: string;
  requests: number;
  ms: number;
  issued: number;
  soldOut: number;
  alreadyIssued: number;
  other: number;
  /** The campaign's stored count once the grants are written (or the wait gave up). */
  stored: number;
}

export async function couponBurst(o: {
  port: number;
  total: number;
  requests: number;
  users: number;
  concurrency?: number;
}): Promise<CouponBurstResult> {
  const base = `http://127.0.0.1:${o.port}`;
  const secret = jwtSecret();
  const admin = await issueToken(secret, { sub: "demo-admin", roles: ["admin"] }, 3_600);
  const run = Date.now().toString(36);
  const campaignId = `demo-burst-${run}`;
  const created = await fetch(`${base}/admin/campaigns`, {
    method: "POST",
    headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
    body: JSON.stringify({
      id: campaignId,
      name: `demo burst ${run}`,
      total: o.total,
      discount: 2_000,
      endsAt: new Date(Date.now() + 3_600_000).toISOString(),
    }),
  });
  if (created.status !== 201) {
    throw new Error(`campaign: ${created.status} ${await created.text()}`);
  }
  await created.body?.cancel();
  const tokens = await Promise.all(
    Array.from({ length: o.users }, (_, i) => issueToken(secret, { sub: `demo-${run}-${i}` }, 600)),
  );
  const counts = { issued: 0, soldOut: 0, alreadyIssued: 0, other: 0 };
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < o.requests) {
      next++;
      const res = await fetch(`${base}/coupons/issue`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${tokens[Math.floor(Math.random() * tokens.length)]}`,
          "Content-Type": "application/json",
        },
        body: JSON.stringify({ campaignId }),
      });
      const text = await res.text();
      if (res.status === 202) counts.issued++;
      else if (text.includes("coupon_sold_out")) counts.soldOut++;
      else if (text.includes("coupon_already_issued")) counts.alreadyIssued++;
      else counts.other++;
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 50 }, worker));
  const ms = performance.now() - started;
  let stored = 0;
  for (const deadline = Date.now() + 15_000; Date.now() < deadline;) {
    const res = await fetch(`${base}/admin/campaigns/${campaignId}`, {
      headers: { Authorization: `Bearer ${admin}` },
    });
    stored = (await res.json()).issued;
    if (stored >= Math.min(o.total, counts.issued)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { campaignId, requests: o.requests, ms, ...counts, stored };
}

/** One line for people. */
export function describeBurst(r: CouponBurstResult, total: number, users: number): string {
  return `coupon burst: ${r.requests} requests from ${users} users for ${total} coupons in ` +
    `${Math.round(r.ms)} ms → ${r.issued} issued, ${r.soldOut} sold out, ` +
    `${r.alreadyIssued} already issued, ${r.other} other; ${r.stored} stored in Postgres ` +
    `(campaign ${r.campaignId})`;
}

if (import.meta.main) {
  const o = { port: envInt("COUPON_HTTP_PORT", 7103), total: 100, requests: 2_000, users: 500 };
  console.log(describeBurst(await couponBurst(o), o.total, o.users));
}
