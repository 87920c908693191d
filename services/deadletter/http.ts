/**
 * The dead-letter service's admin API (SPEC §9.2: operators read, replay and
 * resolve dead letters). Every route but /health and /metrics needs a bearer
 * token with the `admin` role. README.md documents each route and answer.
 *
 *   GET  /admin/dead-letters?status=&topic=&reason=&consumer=&eventId=&limit=&before=
 *   GET  /admin/dead-letters/stats
 *   GET  /admin/dead-letters/:id
 *   POST /admin/dead-letters/replay          every PENDING one ({ topic?, limit? })
 *   POST /admin/dead-letters/:id/replay
 *   POST /admin/dead-letters/:id/resolve     ({ note? })
 *   GET  /metrics
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { Hono } from "hono";
import { z } from "zod";
import {
  type AppEnv,
  authenticate,
  createApp,
  currentUser,
  HttpError,
  requireRole,
  validate,
} from "../../kit/mod.ts";
import { STATUSES } from "./domain/dead_letter.ts";
import type { DeadLetterDeps } from "./handlers/deps.ts";
import { NotReplayableError, replayOne, replayPending } from "./handlers/replay.ts";
import {
  countDeadLetters,
  type DeadLetter,
  findDeadLetter,
  historyOf,
  listDeadLetters,
  resolveDeadLetter,
} from "./store.ts";

const name = z.string().min(1).max(200);
const ID = /^[1-9]\d{0,17}$/;

export const ListQuery = z.strictObject({
  status: z.enum(STATUSES as [string, ...string[]]).optional(),
  topic: name.optional(),
  reason: name.optional(),
  consumer: name.optional(),
  eventId: name.optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
  before: z.string().regex(ID, "must be a dead letter id").optional(),
});

export const ReplayAllBody = z.strictObject({
  topic: name.optional(),
  limit: z.number().int().min(1).max(10_000).optional(),
});

export const ResolveBody = z.strictObject({
  note: z.string().trim().min(1).max(1_000).optional(),
});

function idOf(raw: string): string {
  if (!ID.test(raw)) throw new HttpError(404, `no dead letter ${raw.slice(0, 40)}`);
  return raw;
}

const iso = (d: Date | null) => d === null ? null : d.toISOString();

/** A dead letter as the list shows it. */
export function summary(l: DeadLetter) {
  return {
    id: Number(l.id),
    status: l.status,
    retryable: l.retryable,
    source: l.source,
    originalTopic: l.originalTopic,
    originalPartition: l.originalPartition,
    originalOffset: l.originalOffset,
    key: l.key,
    eventId: l.eventId,
    eventType: l.eventType,
    consumer: l.consumer,
    consumerGroup: l.consumerGroup,
    reason: l.reason,
    detail: l.detail,
    errorClass: l.errorClass,
    errorMessage: l.errorMessage,
    attempts: l.attempts,
    failures: l.failures,
    replays: l.replays,
    firstFailureAt: iso(l.firstFailureAt),
    lastFailureAt: iso(l.lastFailureAt),
    receivedAt: iso(l.receivedAt),
    lastReplayedAt: iso(l.lastReplayedAt),
    resolvedAt: iso(l.resolvedAt),
    resolvedBy: l.resolvedBy,
    note: l.note,
    traceparent: l.traceparent,
  };
}

function valueOf(v: Uint8Array | null): { value: string | null; valueEncoding: string } {
  if (v === null) return { value: null, valueEncoding: "utf8" };
  try {
    return { value: new TextDecoder("utf-8", { fatal: true }).decode(v), valueEncoding: "utf8" };
  } catch {
    return { value: Buffer.from(v).toString("base64"), valueEncoding: "base64" };
  }
}

export interface DeadLetterHttpDeps extends DeadLetterDeps {
  /** Verifies bearer tokens; defaults to JWT_SECRET. */
  jwtSecret?: string;
}

/** The service's Hono app (with the kit's /health, errors and request ids). */
export function deadLetterHttp(deps: DeadLetterHttpDeps): Hono<AppEnv> {
  const { sql } = deps;
  // GET /metrics (kit/metrics.ts) serves the process's metrics and ours.
  const app = createApp({
    service: "deadletter",
    log: deps.log,
    checks: { db: () => sql`select 1` },
    metrics: [deps.metrics.registry],
  });
  app.use("/admin/*", authenticate({ secret: deps.jwtSecret }), requireRole("admin"));

  app.get("/admin/dead-letters", validate("query", ListQuery), async (c) => {
    const q = c.req.valid("query");
    const limit = q.limit ?? 50;
    const items = await listDeadLetters(sql, {
      ...q,
      status: q.status as DeadLetter["status"] | undefined,
      limit,
    });
    const next = items.length === limit ? Number(items[items.length - 1].id) : null;
    return c.json({ items: items.map(summary), next });
  });

  app.get("/admin/dead-letters/stats", async (c) => {
    const rows = await countDeadLetters(sql);
    const byStatus: Record<string, number> = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    const byTopic: Record<string, Record<string, number>> = {};
    let total = 0;
    for (const r of rows) {
      byStatus[r.status] += r.n;
      (byTopic[r.topic] ??= {})[r.status] = r.n;
      total += r.n;
    }
    return c.json({ byStatus, byTopic, total });
  });

  app.post("/admin/dead-letters/replay", validate("json", ReplayAllBody), async (c) => {
    const body = c.req.valid("json");
    const ids = await replayPending(deps, { ...body, trigger: `admin:${currentUser(c).id}` });
    return c.json({ replayed: ids.length, ids: ids.map(Number) });
  });

  app.get("/admin/dead-letters/:id", async (c) => {
    const id = idOf(c.req.param("id"));
    const letter = await findDeadLetter(sql, id);
    if (!letter) throw new HttpError(404, `no dead letter ${id}`);
    const history = await historyOf(sql, id);
    return c.json({
      ...summary(letter),
      ...valueOf(letter.value),
      headers: letter.headers,
      dlqTopic: letter.dlqTopic,
      history: history.map((h) => ({ at: h.at.toISOString(), action: h.action, detail: h.detail })),
    });
  });

  app.post("/admin/dead-letters/:id/replay", async (c) => {
    const id = idOf(c.req.param("id"));
    let letter: DeadLetter | null;
    try {
      letter = await replayOne(deps, id, `admin:${currentUser(c).id}`);
    } catch (err) {
      if (err instanceof NotReplayableError) {
        throw new HttpError(409, err.message, { code: "not_replayable" });
      }
      throw err;
    }
    if (!letter) throw new HttpError(404, `no dead letter ${id}`);
    return c.json(summary(letter));
  });

  app.post("/admin/dead-letters/:id/resolve", validate("json", ResolveBody), async (c) => {
    const id = idOf(c.req.param("id"));
    const letter = await resolveDeadLetter(
      sql,
      id,
      currentUser(c).id,
      c.req.valid("json").note ?? null,
    );
    if (!letter) throw new HttpError(404, `no dead letter ${id}`);
    return c.json(summary(letter));
  });

  return app;
}
