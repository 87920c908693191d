/**
 * The HTTP API of first-come-first-served campaigns (SPEC §5, §12.2):
 *
 *   POST /admin/campaigns       admin: { name, total, discount, endsAt, startsAt?,
 *                               couponExpiresAt?, id? } → 201
 *   GET  /admin/campaigns       admin: the newest campaigns, with their counts
 *   GET  /admin/campaigns/:id   admin: one campaign, with its counts
 *   POST /coupons/issue         the caller asks for a campaign's coupon: { campaignId }
 *   GET  /coupons/ws            WebSocket: what became of the caller's coupons (websocket.ts)
 *
 * An issue request is answered at once with the decision (SPEC §5.2.1):
 * 202 `{ result: "issued", couponId }` (stored in the database moments
 * later; the WebSocket says when), or an error in the kit's shape — 409
 * `coupon_sold_out`, 409 `coupon_already_issued`, 409 `campaign_not_started`,
 * 410 `campaign_ended`, 404 `campaign_not_found` — or 503
 * `coupon_issuance_unavailable` with Retry-After while Redis is down.
 *
 * @module
 */
import type { Context, Hono } from "hono";
import { z } from "zod";
import type { Sql } from "../../../db/mod.ts";
import { type AppEnv, currentUser, errorResponse, HttpError, validate } from "../../../kit/mod.ts";
import { countCouponIssue } from "../../../kit/metrics.ts";
import { findCampaign, insertCampaign, listCampaigns } from "../campaign_store.ts";
import { type Campaign, type IssueDecision, windowState } from "../domain/campaign.ts";
import { cachedAuthenticate } from "./auth_cache.ts";
import { type Issuer, IssuerUnavailableError } from "./issuer.ts";
import type { CouponNotifier } from "./notifier.ts";

const ID = /^[A-Za-z0-9_\-:.]+$/;
const id = z.string().min(1).max(64).regex(ID, "may hold only letters, digits and _-:.");
const time = z.iso.datetime({ offset: true });

export const CreateCampaignBody = z.strictObject({
  id: id.optional(),
  name: z.string().trim().min(1).max(200),
  total: z.number().int().min(1).max(10_000_000),
  discount: z.number().int().min(1).max(1_000_000_000),
  startsAt: time.optional(),
  endsAt: time,
  couponExpiresAt: time.optional(),
}).refine((b) => Date.parse(b.endsAt) > (b.startsAt ? Date.parse(b.startsAt) : Date.now()), {
  path: ["endsAt"],
  message: "must be after startsAt (and in the future)",
}).refine((b) => !b.couponExpiresAt || Date.parse(b.couponExpiresAt) > Date.parse(b.endsAt), {
  path: ["couponExpiresAt"],
  message: "must be after endsAt",
});

export const IssueBody = z.strictObject({ campaignId: id });

const MAX_LISTED = 100;

export interface IssuanceHttpDeps {
  sql: Sql;
  issuer: Issuer;
  /** Refusals decided on the spot are pushed to the user's sockets on this instance. */
  notifier?: CouponNotifier;
}

async function view(c: Campaign, issuer: Issuer, now: Date) {
  return {
    id: c.id,
    name: c.name,
    total: c.total,
    /** Coupons stored in the database. */
    issued: c.issued,
    /** Grants decided (Redis); ahead of `issued` while the worker stores them. */
    granted: await issuer.granted(c.id),
    remaining: c.total - c.issued,
    discount: c.discount,
    startsAt: c.startsAt.toISOString(),
    endsAt: c.endsAt.toISOString(),
    couponExpiresAt: c.couponExpiresAt?.toISOString() ?? null,
    window: windowState(c, now),
    createdAt: c.createdAt.toISOString(),
    soldOutAt: c.soldOutAt?.toISOString() ?? null,
  };
}

/** The answer to a decision: 202 when issued, the kit's error shape otherwise. */
function answer(c: Context, campaignId: string, d: IssueDecision): Response {
  switch (d.result) {
    case "issued":
      return c.json({ result: "issued", campaignId, couponId: d.couponId }, 202);
    case "sold_out":
      return errorResponse(c, 409, {
        code: "coupon_sold_out",
        message: "this campaign's coupons are all given out",
      });
    case "already_issued":
      return errorResponse(c, 409, {
        code: "coupon_already_issued",
        message: "you have this campaign's coupon already",
      });
    case "not_started":
      return errorResponse(c, 409, {
        code: "campaign_not_started",
        message: `this campaign starts at ${d.startsAt.toISOString()}`,
      });
    case "ended":
      return errorResponse(c, 410, { code: "campaign_ended", message: "this campaign has ended" });
    case "unknown_campaign":
      return errorResponse(c, 404, {
        code: "campaign_not_found",
        message: `no campaign ${campaignId}`,
      });
  }
}

/**
 * Adds `POST /coupons/issue`, authenticated on its own (auth_cache.ts): call
 * it before the app's /coupons/* middleware.
 */
export function mountIssue(app: Hono<AppEnv>, deps: IssuanceHttpDeps, jwtSecret?: string): void {
  const { issuer, notifier } = deps;
  const auth = cachedAuthenticate({ secret: jwtSecret });
  app.post("/coupons/issue", auth, validate("json", IssueBody), async (c) => {
    const { campaignId } = c.req.valid("json");
    const user = currentUser(c);
    let decision: IssueDecision;
    try {
      decision = await issuer.issue(campaignId, user.id);
    } catch (err) {
      if (!(err instanceof IssuerUnavailableError)) throw err;
      const retry = String(err.retryAfterSeconds);
      return errorResponse(c, 503, {
        code: "coupon_issuance_unavailable",
        message: `coupon issuance is unavailable for a moment; retry in ${retry} s`,
      }, { "Retry-After": retry });
    }
    countCouponIssue(decision.result);
    if (decision.result === "sold_out" && notifier) {
      notifier.push({ type: "CouponSoldOut", campaignId, userId: user.id });
    }
    return answer(c, campaignId, decision);
  });
}

/** Adds the admin's campaign routes; the app's /admin/* middleware lets only admins in. */
export function mountCampaignAdmin(app: Hono<AppEnv>, deps: IssuanceHttpDeps): void {
  const { sql, issuer } = deps;

  app.post("/admin/campaigns", validate("json", CreateCampaignBody), async (c) => {
    const b = c.req.valid("json");
    const campaignId = b.id ?? crypto.randomUUID();
    const created = await insertCampaign(sql, {
      id: campaignId,
      name: b.name,
      total: b.total,
      discount: b.discount,
      startsAt: b.startsAt ? new Date(b.startsAt) : new Date(),
      endsAt: new Date(b.endsAt),
      couponExpiresAt: b.couponExpiresAt ? new Date(b.couponExpiresAt) : null,
    });
    if (!created) {
      throw new HttpError(409, `campaign ${campaignId} exists already`, {
        code: "campaign_exists",
      });
    }
    await issuer.campaignCreated(created);
    return c.json(await view(created, issuer, new Date()), 201);
  });

  app.get("/admin/campaigns", async (c) => {
    const now = new Date();
    const all = await listCampaigns(sql, MAX_LISTED);
    return c.json({ campaigns: await Promise.all(all.map((x) => view(x, issuer, now))) });
  });

  app.get("/admin/campaigns/:id", async (c) => {
    const found = await findCampaign(sql, c.req.param("id"));
    if (!found) throw new HttpError(404, `no campaign ${c.req.param("id")}`);
    return c.json(await view(found, issuer, new Date()));
  });
}
