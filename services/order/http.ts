/**
 * The order service's HTTP API (SPEC §12.1):
 *   POST /orders            place an order → 202 { orderId, status: PENDING, statusUrl, mode }
 *   GET  /orders/:id        the caller's order: status, mode, steps, history
 *   GET  /orders            the caller's orders (?status=&from=&to=&limit=)
 *   GET  /orders/:id/events the order's own outbox events (requests, undos; their traceparent)
 *   GET  /admin/orders      every user's orders (?status=&user=&from=&to=&limit=), admin
 *   GET  /admin/orders/ws   WebSocket: every order's status changes, admin (websocket.ts)
 *   GET  /orders/ws         WebSocket: the caller's order status changes (websocket.ts)
 *   GET  /admin/settings/mode, PUT /admin/settings/mode   the parallel rollout switch (§4.3.5)
 *   GET  /admin/admission   admission control's state: in flight, limit, rate (issue #17)
 * Every route needs a bearer token; users see only their own orders.
 *
 * @module
 */
import { trace } from "@opentelemetry/api";
import { z } from "zod";
import { inTransaction } from "../../db/after_commit.ts";
import type { Sql } from "../../db/mod.ts";
import { authenticate, currentUser, requireRole } from "../../kit/http/auth.ts";
import { createApp } from "../../kit/http/app.ts";
import { HttpError } from "../../kit/http/errors.ts";
import { validate } from "../../kit/http/validate.ts";
import type { Logger } from "../../kit/log.ts";
import type { Admission } from "./admission/admission.ts";
import { overloadedResponse, userLimitResponse } from "./admission/refusals.ts";
import { lockedUserInFlight } from "./admission/signal.ts";
import { chooseMode } from "./domain/mode.ts";
import { mergedQuantityProblem, mergeLines } from "./domain/lines.ts";
import type { OrderLine } from "./events.ts";
import { orderAdmitted, orderRefused } from "./metrics.ts";
import type { OrderNotifier } from "./notifications.ts";
import { placeOrder } from "./saga_runner.ts";
import {
  findByIdempotencyKey,
  findOrder,
  history,
  orderEvents,
  type OrderRow,
  readModeSettings,
  searchOrders,
  writeModeSettings,
} from "./store.ts";
import { mountOrderSocket } from "./websocket.ts";

/** The most of one product an order may ask for: one line's bound, and the merged lines'. */
const MAX_QUANTITY = 1_000;

export const PlaceOrderBody = z.object({
  // Lines of the same product are merged (domain/lines.ts, issue 15 item 1);
  // the merged quantity keeps a line's bound, refused as a fault of `items`.
  items: z.array(
    z.object({
      productId: z.string().min(1).max(64),
      quantity: z.number().int().min(1).max(MAX_QUANTITY),
    }).strict(),
  ).min(1).max(50)
    .refine((lines) => mergedQuantityProblem(lines, MAX_QUANTITY) === undefined, {
      error: (issue) => mergedQuantityProblem(issue.input as OrderLine[], MAX_QUANTITY),
    })
    .transform(mergeLines),
  couponId: z.string().min(1).max(64).optional(),
  points: z.number().int().min(0).max(10_000_000).optional(),
}).strict();

const ModeBody = z.object({
  strategy: z.enum(["parallel", "sequential", "hybrid"]),
  parallelEnabled: z.boolean(),
  parallelPercentage: z.number().int().min(0).max(100),
}).strict();

const ListQuery = z.object({
  status: z.enum(["PENDING", "COMPENSATING", "COMPLETED", "CANCELLED"]).optional(),
  from: z.coerce.date().optional(),
  to: z.coerce.date().optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
});

const AdminListQuery = ListQuery.extend({ user: z.string().min(1).max(128).optional() });

const IDEMPOTENCY_KEY = /^[A-Za-z0-9_\-:.]{1,128}$/;

export interface OrderHttpDeps {
  sql: Sql;
  log: Logger;
  sagaDeadlineMs: number;
  /** When given, `GET /orders/ws` pushes status changes (websocket.ts). */
  notifier?: OrderNotifier;
  /** When given, POST /orders admits only what can end in time (admission/). */
  admission?: Admission;
}

/** A user's sagas in flight reached their limit: rolls the order's transaction back. */
class UserLimitReached extends Error {
  constructor(readonly inFlight: number) {
    super("user limit reached");
  }
}

function view(o: OrderRow) {
  return {
    orderId: o.id,
    userId: o.userId,
    status: o.status,
    mode: o.mode,
    items: o.items,
    couponId: o.couponId,
    points: o.points,
    reason: o.reason,
    steps: o.saga.steps.map((s) => ({
      step: s.id,
      state: s.state,
      ...(s.reason ? { reason: s.reason } : {}),
    })),
    createdAt: o.createdAt,
    updatedAt: o.updatedAt,
    finishedAt: o.finishedAt,
    statusUrl: `/orders/${o.id}`,
  };
}

export function orderApp(deps: OrderHttpDeps) {
  const { sql } = deps;
  const app = createApp({ service: "order", log: deps.log, checks: { db: () => sql`select 1` } });

  // First, so neither the header-only authentication below nor /orders/:id
  // takes it: the WebSocket authenticates itself (its token may be in the URL).
  if (deps.notifier) mountOrderSocket(app, deps.notifier);
  app.use("/orders", authenticate());
  app.use("/orders/*", authenticate());
  app.use("/admin/*", authenticate(), requireRole("admin"));

  app.post("/orders", validate("json", PlaceOrderBody), async (c) => {
    const user = currentUser(c);
    const body = c.req.valid("json");
    const key = c.req.header("Idempotency-Key") ?? null;
    if (key !== null && !IDEMPOTENCY_KEY.test(key)) {
      throw new HttpError(400, "Idempotency-Key must be 1–128 letters, digits or -_:.");
    }
    if (key !== null) {
      const existing = await findByIdempotencyKey(sql, user.id, key);
      if (existing) return c.json(view(existing), 202);
    }
    // Before anything is written: can this saga end within its deadline?
    const decision = await deps.admission?.admit();
    if (decision && !decision.admit) {
      orderRefused("overloaded");
      return overloadedResponse(c, decision.state, decision.retryAfterS);
    }
    const orderId = crypto.randomUUID();
    // Finds the saga's trace in Jaeger by tag (`order.id`), e.g. for the console.
    trace.getActiveSpan()?.setAttribute("order.id", orderId);
    let order: OrderRow;
    try {
      order = await inTransaction(sql, async (tx) => {
        if (decision) {
          const mine = await lockedUserInFlight(tx, user.id);
          if (mine >= decision.state.userLimit) throw new UserLimitReached(mine);
        }
        const settings = await readModeSettings(tx);
        const mode = chooseMode({
          userId: user.id,
          lines: body.items.length,
          usesCoupon: body.couponId !== undefined,
          usesPoints: (body.points ?? 0) > 0,
        }, settings);
        return await placeOrder(tx, {
          orderId,
          userId: user.id,
          items: body.items,
          couponId: body.couponId ?? null,
          points: body.points ?? 0,
          idempotencyKey: key,
          mode,
          deadlineMs: deps.sagaDeadlineMs,
        });
      });
    } catch (err) {
      if (err instanceof UserLimitReached && decision) {
        orderRefused("user_limit");
        return userLimitResponse(c, decision.state, err.inFlight);
      }
      // Two requests with the same key at once: the second loses the unique
      // constraint and answers with the first one's order.
      if (key !== null && (err as { code?: string }).code === "23505") {
        const existing = await findByIdempotencyKey(sql, user.id, key);
        if (existing) return c.json(view(existing), 202);
      }
      throw err;
    } finally {
      if (decision) deps.admission?.placed();
    }
    if (decision) orderAdmitted();
    c.header("Location", `/orders/${orderId}`);
    return c.json(view(order), 202);
  });

  app.get("/orders/:id", async (c) => {
    const user = currentUser(c);
    const id = c.req.param("id");
    if (!z.uuid().safeParse(id).success) throw new HttpError(404, "no such order");
    const order = await findOrder(sql, id);
    // Someone else's order is "not found": its existence is not ours to tell.
    if (!order || (order.userId !== user.id && !user.roles.includes("admin"))) {
      throw new HttpError(404, "no such order");
    }
    const events = await history(sql, id);
    return c.json({ ...view(order), history: events });
  });

  app.get("/orders/:id/events", async (c) => {
    const user = currentUser(c);
    const id = c.req.param("id");
    if (!z.uuid().safeParse(id).success) throw new HttpError(404, "no such order");
    const order = await findOrder(sql, id);
    if (!order || (order.userId !== user.id && !user.roles.includes("admin"))) {
      throw new HttpError(404, "no such order");
    }
    return c.json({ orderId: id, events: await orderEvents(sql, id) });
  });

  app.get("/orders", validate("query", ListQuery), async (c) => {
    const user = currentUser(c);
    const q = c.req.valid("query");
    const rows = await searchOrders(sql, { ...q, userId: user.id, limit: q.limit ?? 50 });
    return c.json({ orders: rows.map(view) });
  });

  app.get("/admin/orders", validate("query", AdminListQuery), async (c) => {
    const q = c.req.valid("query");
    const rows = await searchOrders(sql, {
      userId: q.user,
      status: q.status,
      from: q.from,
      to: q.to,
      limit: q.limit ?? 50,
    });
    return c.json({ orders: rows.map(view) });
  });

  app.get("/admin/admission", async (c) => {
    if (!deps.admission) return c.json({ enabled: false });
    const state = await deps.admission.state();
    return c.json({
      enabled: true,
      ...state,
      estimatedWaitMs: Number.isFinite(state.estimatedWaitMs) ? state.estimatedWaitMs : null,
    });
  });
  app.get("/admin/settings/mode", async (c) => c.json(await readModeSettings(sql)));
  app.put("/admin/settings/mode", validate("json", ModeBody), async (c) => {
    const settings = c.req.valid("json");
    await writeModeSettings(sql, settings);
    deps.log.info("saga mode settings changed", { settings, by: currentUser(c).id });
    return c.json(settings);
  });

  return app;
}
