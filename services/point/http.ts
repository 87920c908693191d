/**
 * The point service's HTTP API. Every route needs a bearer token; a user
 * sees only their own points.
 *
 *   GET  /points/me                 the caller's balance and latest movements
 *   POST /admin/points/grant        admin: { userId, amount } adds points → 200 { userId, balance }
 *
 * Deductions for orders happen through events (handlers/), not here.
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
  type Logger,
  requireRole,
  validate,
} from "../../kit/mod.ts";
import { findBalance, grantPoints, recentMovements } from "./store.ts";

export const GrantBody = z.strictObject({
  userId: z.string().min(1).max(64),
  amount: z.number().int().min(1).max(1_000_000_000),
});

/** How many movements GET /points/me shows. */
const HISTORY = 20;

export interface PointHttpDeps {
  sql: Sql;
  log?: Logger;
  /** Verifies bearer tokens; defaults to JWT_SECRET. */
  jwtSecret?: string;
}

/** The service's Hono app (with the kit's /health, errors and request ids). */
export function pointHttp(deps: PointHttpDeps): Hono<AppEnv> {
  const { sql } = deps;
  const app = createApp({ service: "point", log: deps.log, checks: { db: () => sql`select 1` } });
  const auth = authenticate({ secret: deps.jwtSecret });
  app.use("/points/*", auth);
  app.use("/admin/*", auth, requireRole("admin"));

  app.get("/points/me", async (c) => {
    const { id } = currentUser(c);
    const [balance, movements] = await Promise.all([
      findBalance(sql, id),
      recentMovements(sql, id, HISTORY),
    ]);
    return c.json({
      userId: id,
      // A user never granted points has none (the saga answers unknown_user).
      balance: balance?.balance ?? 0,
      movements: movements.map((m) => ({
        delta: m.delta,
        kind: m.kind,
        orderId: m.orderId,
        at: m.at.toISOString(),
      })),
    });
  });

  app.post("/admin/points/grant", validate("json", GrantBody), async (c) => {
    const { userId, amount } = c.req.valid("json");
    const balance = await sql.begin((tx) => grantPoints(tx, userId, amount));
    return c.json({ userId, balance });
  });

  return app;
}
