/**
 * The coupon service's HTTP API. Every route needs a bearer token; a user
 * sees only their own coupons.
 *
 *   GET  /coupons/me          the caller's coupons, newest first
 *   POST /admin/coupons       admin: grant a coupon { userId, discount, expiresAt?, id? } → 201
 *
 * and, when given an issuer, first-come-first-served campaigns (SPEC §5;
 * issuance/http.ts): `POST /admin/campaigns`, `GET /admin/campaigns[/:id]`,
 * `POST /coupons/issue`, and `GET /coupons/ws` when given a notifier.
 *
 * Coupons are used and given back by orders through events (handlers/).
 *
 * @module
 */
import type { Hono } from "hono";
import { z } from "zod";
import type { Sql } from "../../db/mod.ts";
import {
  type AppEnv,
  authenticate,
  createApp,
  currentUser,
  HttpError,
  type Logger,
  requireRole,
  validate,
} from "../../kit/mod.ts";
import { isExpired } from "./domain/usage.ts";
import { mountCampaignAdmin, mountIssue } from "./issuance/http.ts";
import type { Issuer } from "./issuance/issuer.ts";
import type { CouponNotifier } from "./issuance/notifier.ts";
import { mountCouponSocket } from "./issuance/websocket.ts";
import { couponsOf, insertCoupon, type StoredCoupon } from "./store.ts";

const ID = /^[A-Za-z0-9_\-:.]+$/;

export const GrantCouponBody = z.strictObject({
  id: z.string().min(1).max(64).regex(ID, "may hold only letters, digits and _-:.").optional(),
  userId: z.string().min(1).max(64),
  discount: z.number().int().min(1).max(1_000_000_000),
  expiresAt: z.iso.datetime({ offset: true })
    .refine((v) => Date.parse(v) > Date.now(), "must be in the future")
    .optional(),
});

/** How many coupons GET /coupons/me lists. */
const MAX_LISTED = 200;

function view(c: StoredCoupon, now: Date) {
  return {
    id: c.id,
    discount: c.discount,
    status: c.status,
    usable: c.status === "AVAILABLE" && !isExpired(c, now),
    usedByOrder: c.usedByOrder,
    usedAt: c.usedAt?.toISOString() ?? null,
    expiresAt: c.expiresAt?.toISOString() ?? null,
    createdAt: c.createdAt.toISOString(),
  };
}

export interface CouponHttpDeps {
  sql: Sql;
  log?: Logger;
  /** Verifies bearer tokens; defaults to JWT_SECRET. */
  jwtSecret?: string;
  /** Decides first-come-first-served issue requests (SPEC §5); without it, no campaign routes. */
  issuer?: Issuer;
  /** When given, `GET /coupons/ws` tells users what became of their coupons. */
  notifier?: CouponNotifier;
}

/** The service's Hono app (with the kit's /health, errors and request ids). */
export function couponHttp(deps: CouponHttpDeps): Hono<AppEnv> {
  const { sql } = deps;
  const app = createApp({ service: "coupon", log: deps.log, checks: { db: () => sql`select 1` } });
  const auth = authenticate({ secret: deps.jwtSecret });
  // Before the /coupons/* middleware: the WebSocket authenticates itself
  // (its token may be in the URL).
  if (deps.notifier) mountCouponSocket(app, deps.notifier, deps.jwtSecret);
  // Also before it: the issue endpoint remembers verified tokens (issuance/auth_cache.ts).
  const issuance = deps.issuer ? { sql, issuer: deps.issuer, notifier: deps.notifier } : null;
  if (issuance) mountIssue(app, issuance, deps.jwtSecret);
  app.use("/coupons/*", auth);
  app.use("/admin/*", auth, requireRole("admin"));

  app.get("/coupons/me", async (c) => {
    const { id } = currentUser(c);
    const now = new Date();
    const coupons = await couponsOf(sql, id, MAX_LISTED);
    return c.json({ userId: id, coupons: coupons.map((coupon) => view(coupon, now)) });
  });

  app.post("/admin/coupons", validate("json", GrantCouponBody), async (c) => {
    const body = c.req.valid("json");
    const id = body.id ?? crypto.randomUUID();
    const coupon = await insertCoupon(sql, {
      id,
      userId: body.userId,
      discount: body.discount,
      expiresAt: body.expiresAt === undefined ? null : new Date(body.expiresAt),
    });
    if (!coupon) throw new HttpError(409, `coupon ${id} exists already`, { code: "coupon_exists" });
    return c.json({ userId: coupon.userId, ...view(coupon, new Date()) }, 201);
  });

  if (issuance) mountCampaignAdmin(app, issuance);
  return app;
}
