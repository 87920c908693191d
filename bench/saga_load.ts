/**
 * The moving parts of `bench/saga.ts` (issue #5's saga benchmark): the
 * users' WebSockets that report each order's outcome, the load driver, and
 * the per-hop breakdown read back from the database (CPU per process group:
 * bench/cpu.ts).
 *
 * @module
 */
import type postgres from "postgres";
import type { ManagedProcess } from "../tests/support/process.ts";
import type { Client } from "../tests/support/suite.ts";
import { nowMs, sleep } from "./support.ts";

/** One user of the benchmark: its client (token) and the order instance its socket is on. */
export interface BenchUser {
  client: Client;
  token: string;
  socketVia: ManagedProcess;
}

/** One POST /orders and what became of it. */
export interface Sample {
  /** Which user placed it (index into the users), and through which order instance. */
  user: number;
  via: number;
  /** nowMs() just before the request was sent. */
  sentAt: number;
  /** Until the whole 202 body was read; NaN when nothing came back. */
  httpMs: number;
  /** HTTP status; 0 when the request itself failed. */
  status: number;
  orderId?: string;
  /** The saga mode the order service chose. */
  mode?: string;
  /** When the WebSocket said COMPLETED or CANCELLED. */
  finalAt?: number;
  final?: string;
}

// ---------------------------------------------------------------- notifications

/**
 * One WebSocket per user (`GET /orders/ws`, token as a subprotocol), each on one of
 * the order instances: the designed way a client learns an order's outcome.
 * Keeps the first final status per order with its arrival time.
 */
export class Notifications {
  #final = new Map<string, { status: string; at: number }>();
  #waiters = new Map<string, () => void>();
  #sockets = new Set<WebSocket>();
  #closing = false;
  /** Sockets that closed during the run and were opened again. */
  reconnects = 0;
  /** Messages received (PENDING included). */
  messages = 0;

  async open(users: BenchUser[]): Promise<void> {
    await Promise.all(users.map((u) => this.#connect(u)));
  }

  #connect(u: BenchUser): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${u.socketVia.port}/orders/ws`, [
        "bearer",
        u.token,
      ]);
      let opened = false;
      ws.onopen = () => {
        opened = true;
        this.#sockets.add(ws);
        resolve();
      };
      ws.onmessage = (e) => {
        const at = nowMs();
        this.messages++;
        const m = JSON.parse(String(e.data)) as { orderId?: string; status?: string };
        if (!m.orderId || (m.status !== "COMPLETED" && m.status !== "CANCELLED")) return;
        if (!this.#final.has(m.orderId)) this.#final.set(m.orderId, { status: m.status, at });
        this.#waiters.get(m.orderId)?.();
      };
      ws.onerror = () => {
        if (!opened) reject(new Error(`WebSocket to order instance :${u.socketVia.port} failed`));
      };
      ws.onclose = () => {
        this.#sockets.delete(ws);
        if (!opened || this.#closing) return;
        this.reconnects++;
        sleep(200).then(() => this.#closing ? undefined : this.#connect(u)).catch(() => {});
      };
    });
  }

  final(orderId: string): { status: string; at: number } | undefined {
    return this.#final.get(orderId);
  }

  /** Resolves when the order's final status arrived (true) or after `timeoutMs` (false). */
  wait(orderId: string, timeoutMs: number): Promise<boolean> {
    if (this.#final.has(orderId)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), timeoutMs);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.#waiters.delete(orderId);
        resolve(ok);
      };
      this.#waiters.set(orderId, () => done(true));
    });
  }

  close(): void {
    this.#closing = true;
    for (const ws of this.#sockets) ws.close();
    this.#sockets.clear();
    for (const w of this.#waiters.values()) w();
  }
}

// ---------------------------------------------------------------- load

export interface LoadOptions {
  seconds: number;
  /** Concurrent clients; client i is user i % users.length. */
  concurrency: number;
  /**
   * Orders a client may have waiting for their outcome before it places the
   * next one (1: a user who waits for each order; 0: no limit, the next POST
   * goes right after the 202).
   */
  window: number;
  users: BenchUser[];
  /** The order instances; a client's requests go to each in turn. */
  instances: ManagedProcess[];
  /**
   * The body of client `client`'s `k`-th order (may prepare things first,
   * e.g. a coupon: not timed).
   */
  body: (user: BenchUser, client: number, k: number) => Promise<Record<string, unknown>>;
  notifications: Notifications;
  completionTimeoutMs: number;
}

/** Drives the load for `seconds`; returns every POST with its timings (outcomes fill in later). */
export async function drive(opts: LoadOptions): Promise<{ samples: Sample[]; start: number }> {
  const samples: Sample[] = [];
  const start = nowMs();
  const end = start + opts.seconds * 1000;
  await Promise.all(Array.from({ length: opts.concurrency }, async (_, c) => {
    const userIndex = c % opts.users.length;
    const user = opts.users[userIndex];
    const waiting = new Set<Promise<unknown>>();
    let k = 0;
    while (nowMs() < end) {
      if (opts.window > 0 && waiting.size >= opts.window) {
        await Promise.race(waiting);
        continue;
      }
      const body = await opts.body(user, c, k);
      const via = (c + k++) % opts.instances.length;
      const s: Sample = { user: userIndex, via, sentAt: nowMs(), httpMs: NaN, status: 0 };
      samples.push(s);
      try {
        const res = await fetch(`http://127.0.0.1:${opts.instances[via].port}/orders`, {
          method: "POST",
          headers: { Authorization: `Bearer ${user.token}`, "Content-Type": "application/json" },
          body: JSON.stringify(body),
        });
        const json = await res.json() as { orderId?: string; mode?: string };
        s.httpMs = nowMs() - s.sentAt;
        s.status = res.status;
        s.orderId = json.orderId;
        s.mode = json.mode;
      } catch {
        s.httpMs = nowMs() - s.sentAt;
        await sleep(50); // the service is not answering: don't spin
      }
      if (s.status === 202 && s.orderId && opts.window > 0) {
        const p: Promise<unknown> = opts.notifications.wait(s.orderId, opts.completionTimeoutMs)
          .finally(() => waiting.delete(p));
        waiting.add(p);
      }
    }
    await Promise.all(waiting);
  }));
  return { samples, start };
}

/** Waits until every accepted order has its outcome, or until its timeout passed. */
export async function drain(
  samples: Sample[],
  notifications: Notifications,
  timeoutMs: number,
): Promise<void> {
  await Promise.all(
    samples.filter((s) => s.status === 202 && s.orderId).map((s) =>
      notifications.wait(s.orderId!, Math.max(0, s.sentAt + timeoutMs - nowMs()))
    ),
  );
  for (const s of samples) {
    const f = s.orderId ? notifications.final(s.orderId) : undefined;
    if (f) {
      s.final = f.status;
      s.finalAt = f.at;
    }
  }
}

// ---------------------------------------------------------------- breakdown from the database

/** What the database says about the orders (admin connection, read-only). */
export interface DbOrder {
  status: string;
  mode: string;
  createdMs: number;
  finishedMs: number | null;
}

export interface DbStep {
  orderId: string;
  kind: "stock" | "coupon" | "point";
  /** The request's outbox row written (its transaction commits right after). */
  requestedMs: number;
  /** The participant's handler transaction began (its inbox row's processed_at = now()). */
  handledMs: number | null;
  /** The order service applied the reply (history `<step> succeeded`). */
  appliedMs: number | null;
}

const REQUEST_KIND: Record<string, DbStep["kind"]> = {
  StockDeductionRequested: "stock",
  CouponUsageRequested: "coupon",
  PointDeductionRequested: "point",
};

export async function readBack(
  sql: postgres.Sql,
  orderIds: string[],
): Promise<{ orders: Map<string, DbOrder>; steps: DbStep[] }> {
  const orders = new Map<string, DbOrder>();
  const steps: DbStep[] = [];
  for (let i = 0; i < orderIds.length; i += 2_000) {
    const ids = orderIds.slice(i, i + 2_000);
    const rows = await sql<
      { id: string; status: string; mode: string; created_ms: number; finished_ms: number | null }[]
    >`
      select id::text, status, mode,
        extract(epoch from created_at)::float8 * 1000 as created_ms,
        extract(epoch from finished_at)::float8 * 1000 as finished_ms
      from orders.orders where id = any(${ids}::uuid[])`;
    for (const r of rows) {
      orders.set(r.id, {
        status: r.status,
        mode: r.mode,
        createdMs: r.created_ms,
        finishedMs: r.finished_ms,
      });
    }
    const stepRows = await sql<
      {
        order_id: string;
        event_type: string;
        step: string;
        requested_ms: number;
        handled_ms: number | null;
        applied_ms: number | null;
      }[]
    >`
      select ob.aggregate_id as order_id, ob.event_type,
        case ob.event_type
          when 'StockDeductionRequested' then 'stock:' || (ob.payload->>'line')
          when 'CouponUsageRequested' then 'coupon'
          else 'point' end as step,
        extract(epoch from ob.created_at)::float8 * 1000 as requested_ms,
        extract(epoch from coalesce(ii.processed_at, ci.processed_at, pi.processed_at))::float8
          * 1000 as handled_ms,
        (select extract(epoch from min(h.at))::float8 * 1000 from orders.order_history h
          where h.order_id = ob.aggregate_id::uuid
            and h.note = (case ob.event_type
              when 'StockDeductionRequested' then 'stock:' || (ob.payload->>'line')
              when 'CouponUsageRequested' then 'coupon'
              else 'point' end) || ' succeeded') as applied_ms
      from orders.outbox ob
      left join inventory.inbox ii
        on ii.consumer = 'inventory-service' and ii.message_id = ob.event_id::text
      left join coupons.inbox ci
        on ci.consumer = 'coupon-service' and ci.message_id = ob.event_id::text
      left join points.inbox pi
        on pi.consumer = 'point-service' and pi.message_id = ob.event_id::text
      where ob.aggregate_type = 'order' and ob.aggregate_id = any(${ids}::text[])
        and ob.event_type in
          ('StockDeductionRequested', 'CouponUsageRequested', 'PointDeductionRequested')`;
    for (const r of stepRows) {
      steps.push({
        orderId: r.order_id,
        kind: REQUEST_KIND[r.event_type],
        requestedMs: r.requested_ms,
        handledMs: r.handled_ms,
        appliedMs: r.applied_ms,
      });
    }
  }
  return { orders, steps };
}
