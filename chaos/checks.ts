/**
 * What must hold after a chaos run, read from the database (superuser):
 * every saga of the run ended COMPLETED or CANCELLED; stock, points and
 * coupons conserve; and no effect was applied twice — each effect row is
 * compared with the events that caused it (the order service's requests, the
 * participants' replies in their outboxes). Each check returns violations as
 * sentences; an empty list means the run was clean.
 *
 * @module
 */
import type postgres from "postgres";
import { sleep } from "../tests/support/dev.ts";

type Sql = postgres.Sql;

/** An event of one of the suite's outboxes that belongs to the run. */
export interface RunEvent {
  schema: string;
  event_id: string;
  event_type: string;
  topic: string;
  payload: Record<string, unknown>;
}

export interface RunTruth {
  /** Prefix of every user and product id of the run (`chaos-<run>`). */
  prefix: string;
  /** Initial stock per product. */
  products: Map<string, number>;
  /** Points granted per user at seed time. */
  granted: Map<string, number>;
}

const OUTBOXES = ["orders", "inventory", "coupons", "points"] as const;

/** Request type → the schema whose inbox must hold its claim. */
const REQUESTS: Record<string, string> = {
  StockDeductionRequested: "inventory",
  StockRestoreRequested: "inventory",
  CouponUsageRequested: "coupons",
  CouponRestoreRequested: "coupons",
  PointDeductionRequested: "points",
  PointRestoreRequested: "points",
};

/** Every outbox event whose payload names an order of the run. */
export async function runEvents(sql: Sql, prefix: string): Promise<RunEvent[]> {
  const out: RunEvent[] = [];
  for (const schema of OUTBOXES) {
    const rows = await sql<RunEvent[]>`
      select ${schema} as schema, e.event_id::text, e.event_type, e.topic, e.payload
      from ${sql(schema)}.outbox e
      join orders.orders o on o.id::text = e.payload->>'orderId'
      where o.user_id like ${prefix + "-%"}`;
    out.push(...rows);
  }
  return out;
}

/** What is still moving: unsettled sagas, unclaimed requests and replies. */
export async function inFlight(sql: Sql, prefix: string) {
  const [{ unsettled }] = await sql`
    select count(*)::int as unsettled from orders.orders
    where user_id like ${prefix + "-%"}
      and (status not in ('COMPLETED', 'CANCELLED')
           or exists (select 1 from jsonb_array_elements(saga->'steps') s
                      where s->>'state' in ('REQUESTED', 'COMPENSATING')))`;
  const events = await runEvents(sql, prefix);
  const claimed = new Set<string>();
  for (const schema of OUTBOXES) {
    const rows = await sql<{ message_id: string }[]>`
      select message_id from ${sql(schema)}.inbox where message_id = any(${
      events.map((e) => e.event_id)
    })`;
    for (const r of rows) claimed.add(`${schema}:${r.message_id}`);
  }
  const requests = events.filter((e) => e.schema === "orders" && REQUESTS[e.event_type]);
  const unclaimedRequests = requests.filter((e) =>
    !claimed.has(`${REQUESTS[e.event_type]}:${e.event_id}`)
  );
  const replies = events.filter((e) => e.schema !== "orders");
  const unclaimedReplies = replies.filter((e) => !claimed.has(`orders:${e.event_id}`));
  return {
    unsettled: unsettled as number,
    unclaimedRequests: unclaimedRequests.length,
    unclaimedReplies: unclaimedReplies.length,
    events: events.length,
  };
}

/**
 * Waits until nothing of the run moves any more; violations when it does
 * not within `timeoutMs`.
 */
export async function drain(
  sql: Sql,
  prefix: string,
  timeoutMs: number,
  log: (s: string) => void,
): Promise<{ violations: string[]; ms: number }> {
  const t0 = Date.now();
  let last = await inFlight(sql, prefix);
  let lastLog = 0;
  while (last.unsettled + last.unclaimedRequests + last.unclaimedReplies > 0) {
    if (Date.now() - t0 > timeoutMs) {
      const v: string[] = [];
      if (last.unsettled) v.push(`${last.unsettled} orders not settled after the drain`);
      if (last.unclaimedRequests) {
        v.push(`${last.unclaimedRequests} requests never handled by their participant`);
      }
      if (last.unclaimedReplies) {
        v.push(`${last.unclaimedReplies} replies never handled by the order service`);
      }
      return { violations: v, ms: Date.now() - t0 };
    }
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now();
      log(
        `  draining: ${last.unsettled} sagas unsettled, ${last.unclaimedRequests} requests and ${last.unclaimedReplies} replies unhandled`,
      );
    }
    await sleep(1_000);
    last = await inFlight(sql, prefix);
  }
  return { violations: [], ms: Date.now() - t0 };
}

interface OrderRow {
  id: string;
  user_id: string;
  items: { productId: string; quantity: number }[];
  coupon_id: string | null;
  points: number;
  status: string;
}

function count<K>(keys: K[]): Map<K, number> {
  const m = new Map<K, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

/** Every invariant; the violations found (at most a few examples of each). */
export async function checkInvariants(sql: Sql, truth: RunTruth): Promise<string[]> {
  const v: string[] = [];
  const like = truth.prefix + "-%";
  const orders = await sql<OrderRow[]>`
    select id::text, user_id, items, coupon_id, points, status from orders.orders
    where user_id like ${like}`;
  const ids = orders.map((o) => o.id);
  const byId = new Map(orders.map((o) => [o.id, o]));
  const done = orders.filter((o) => o.status === "COMPLETED");

  // Every saga ended.
  const open = orders.filter((o) => o.status !== "COMPLETED" && o.status !== "CANCELLED");
  if (open.length) {
    v.push(`${open.length} orders neither COMPLETED nor CANCELLED, e.g. ${open[0].id}`);
  }

  // Stock: initial − sold = now, and = initial − what the deduction rows hold.
  const stock = new Map(
    (await sql<{ id: string; stock: number }[]>`
      select id, stock from inventory.products where id like ${like}`).map((r) => [r.id, r.stock]),
  );
  const deductions = await sql<
    { order_id: string; line: number; product_id: string; quantity: number; state: string }[]
  >`select order_id, line, product_id, quantity, state from inventory.deductions
    where order_id = any(${ids})`;
  for (const [id, initial] of truth.products) {
    const sold = done.flatMap((o) => o.items).filter((l) => l.productId === id)
      .reduce((n, l) => n + l.quantity, 0);
    const held = deductions.filter((d) => d.product_id === id && d.state === "DEDUCTED")
      .reduce((n, d) => n + d.quantity, 0);
    const now = stock.get(id);
    if (now === undefined) v.push(`product ${id} is missing`);
    else if (now + sold !== initial) {
      v.push(`stock of ${id}: ${now} + sold ${sold} ≠ initial ${initial}`);
    } else if (now + held !== initial) {
      v.push(`stock of ${id}: ${now} + deducted ${held} ≠ initial ${initial}`);
    }
  }

  // Points: balance = the ledger = granted − spent by completed orders.
  const balances = new Map(
    (await sql<{ user_id: string; balance: number }[]>`
      select user_id, balance::int from points.balances where user_id like ${like}`)
      .map((r) => [r.user_id, r.balance]),
  );
  const movements = await sql<
    { user_id: string; delta: number; kind: string; order_id: string | null }[]
  >`select user_id, delta::int, kind, order_id from points.movements where user_id like ${like}`;
  for (const [user, granted] of truth.granted) {
    const mine = movements.filter((m) => m.user_id === user);
    const ledger = mine.reduce((n, m) => n + m.delta, 0);
    const grants = mine.filter((m) => m.kind === "GRANT").reduce((n, m) => n + m.delta, 0);
    const spent = done.filter((o) => o.user_id === user).reduce((n, o) => n + o.points, 0);
    const balance = balances.get(user);
    if (balance === undefined) v.push(`user ${user} has no balance`);
    else if (grants !== granted) v.push(`user ${user}: granted ${grants}, expected ${granted}`);
    else if (balance !== ledger) v.push(`user ${user}: balance ${balance} ≠ ledger ${ledger}`);
    else if (balance + spent !== granted) {
      v.push(`user ${user}: balance ${balance} + spent ${spent} ≠ granted ${granted}`);
    }
  }

  // Coupons: USED exactly when one completed order of its owner used it.
  const coupons = await sql<
    { id: string; user_id: string; status: string; used_by_order: string | null }[]
  >`select id, user_id, status, used_by_order from coupons.coupons where user_id like ${like}`;
  for (const c of coupons) {
    const users = done.filter((o) => o.coupon_id === c.id);
    if (users.length > 1) v.push(`coupon ${c.id} used by ${users.length} completed orders`);
    else if (users.length === 1) {
      if (c.status !== "USED" || c.used_by_order !== users[0].id) {
        v.push(`coupon ${c.id} is ${c.status}/${c.used_by_order}, used by ${users[0].id}`);
      }
      if (users[0].user_id !== c.user_id) v.push(`coupon ${c.id} used by a non-owner`);
    } else if (c.status !== "AVAILABLE") {
      v.push(`coupon ${c.id} is ${c.status} but no completed order used it`);
    }
  }

  // Each order has exactly its effects: all for COMPLETED, none for CANCELLED.
  const lineState = new Map(deductions.map((d) => [`${d.order_id}:${d.line}`, d.state]));
  const pointRows = await sql<{ order_id: string; state: string }[]>`
    select order_id, state from points.deductions where order_id = any(${ids})`;
  const pointState = new Map(pointRows.map((r) => [r.order_id, r.state]));
  const usages = await sql<{ order_id: string; coupon_id: string; state: string }[]>`
    select order_id, coupon_id, state from coupons.usages where order_id = any(${ids})`;
  const usedBy = new Map(usages.filter((u) => u.state === "USED").map((u) => [u.order_id, u]));
  const wrong: string[] = [];
  for (const o of orders) {
    const lines = o.items.map((_, i) => lineState.get(`${o.id}:${i + 1}`) === "DEDUCTED");
    const pointsHeld = pointState.get(o.id) === "DEDUCTED";
    const couponHeld = usedBy.has(o.id);
    const ok = o.status === "COMPLETED"
      ? lines.every(Boolean) && pointsHeld === (o.points > 0) &&
        couponHeld === (o.coupon_id !== null)
      : !lines.some(Boolean) && !pointsHeld && !couponHeld;
    if (!ok) wrong.push(`${o.id} (${o.status})`);
  }
  if (wrong.length) {
    v.push(`${wrong.length} orders whose effects do not match their outcome, e.g. ${wrong[0]}`);
  }

  v.push(
    ...await checkEffectsAgainstEvents(sql, truth.prefix, byId, {
      deductions,
      movements,
      usages,
    }),
  );
  return v;
}

/**
 * No effect applied twice: per request exactly one reply, per reply exactly
 * the effect rows it reports (a deduction row DEDUCTED or RESTORED for each
 * StockDeducted, one DEDUCT movement per PointsDeducted, …), per order one
 * OrderPlaced and one outcome event.
 */
async function checkEffectsAgainstEvents(
  sql: Sql,
  prefix: string,
  orders: Map<string, OrderRow>,
  rows: {
    deductions: { order_id: string; line: number; state: string }[];
    movements: { kind: string; order_id: string | null }[];
    usages: { order_id: string; state: string }[];
  },
): Promise<string[]> {
  const v: string[] = [];
  const events = await runEvents(sql, prefix);
  const dupIds = [...count(events.map((e) => `${e.schema}:${e.event_id}`))].filter(([, n]) =>
    n > 1
  );
  if (dupIds.length) v.push(`${dupIds.length} outbox event ids stored twice`);
  const key = (e: RunEvent) =>
    `${e.event_type}|${e.payload.orderId}${
      e.payload.line === undefined ? "" : `:${e.payload.line}`
    }`;
  const n = count(events.map(key));
  const get = (type: string, k: string) => n.get(`${type}|${k}`) ?? 0;
  const bad = (what: string, examples: string[]) => {
    if (examples.length) v.push(`${examples.length} × ${what}, e.g. ${examples[0]}`);
  };

  // The order service asks once per line/step and ends each saga once.
  const outcome: string[] = [];
  for (const id of orders.keys()) {
    if (get("OrderPlaced", id) !== 1) outcome.push(`${id}: ${get("OrderPlaced", id)} OrderPlaced`);
    const ends = get("OrderCompleted", id) + get("OrderCancelled", id);
    if (ends !== 1) outcome.push(`${id}: ${ends} outcome events`);
  }
  bad("orders without exactly one OrderPlaced and one outcome event", outcome);

  // One reply per request, for every request/reply pair.
  const pairs: [string, string[]][] = [
    ["StockDeductionRequested", ["StockDeducted", "StockDeductionFailed"]],
    ["StockRestoreRequested", ["StockRestored"]],
    ["CouponUsageRequested", ["CouponUsed", "CouponUsageFailed"]],
    ["CouponRestoreRequested", ["CouponRestored"]],
    ["PointDeductionRequested", ["PointsDeducted", "PointDeductionFailed"]],
    ["PointRestoreRequested", ["PointsRestored"]],
  ];
  const keys = new Set(events.map((e) => key(e).split("|")[1]));
  for (const [request, replies] of pairs) {
    const off: string[] = [];
    for (const k of keys) {
      const asked = get(request, k);
      const answered = replies.reduce((s, r) => s + get(r, k), 0);
      if (asked > 1 && !request.includes("Restore")) off.push(`${k}: ${request} ×${asked}`);
      if (answered !== asked) off.push(`${k}: ${asked} ${request}, ${answered} replies`);
    }
    bad(`${request} without exactly one reply each`, off);
  }

  // Effect rows match the replies that report them.
  const restored = (type: string, flag: string) =>
    count(events.filter((e) => e.event_type === type && e.payload[flag] === true).map(key));
  const stockBack = restored("StockRestored", "wasDeducted");
  const stockOff: string[] = [];
  for (const d of rows.deductions) {
    const k = `${d.order_id}:${d.line}`;
    const took = get("StockDeducted", k);
    const gave = stockBack.get(`StockRestored|${k}`) ?? 0;
    const expected = d.state === "DEDUCTED" ? [1, 0] : d.state === "RESTORED" ? [1, 1] : [0, 0];
    if (took !== expected[0] || gave !== expected[1]) {
      stockOff.push(`${k} ${d.state}: ${took} StockDeducted, ${gave} StockRestored(wasDeducted)`);
    }
  }
  bad("stock deductions not matching their events", stockOff);

  const pointsBack = restored("PointsRestored", "wasDeducted");
  const pointOff: string[] = [];
  for (const id of orders.keys()) {
    const mine = rows.movements.filter((m) => m.order_id === id);
    const deducts = mine.filter((m) => m.kind === "DEDUCT").length;
    const restores = mine.filter((m) => m.kind === "RESTORE").length;
    const gave = pointsBack.get(`PointsRestored|${id}`) ?? 0;
    if (deducts !== get("PointsDeducted", id) || restores !== gave || deducts > 1) {
      pointOff.push(
        `${id}: ${deducts} DEDUCT / ${
          get("PointsDeducted", id)
        } PointsDeducted, ${restores} RESTORE / ${gave} PointsRestored(wasDeducted)`,
      );
    }
  }
  bad("point movements not matching their events", pointOff);

  const couponsBack = restored("CouponRestored", "wasUsed");
  const couponOff: string[] = [];
  for (const id of orders.keys()) {
    const mine = rows.usages.filter((u) => u.order_id === id);
    const took = mine.filter((u) => u.state === "USED" || u.state === "RESTORED").length;
    const gave = mine.filter((u) => u.state === "RESTORED").length;
    if (took !== get("CouponUsed", id) || gave !== (couponsBack.get(`CouponRestored|${id}`) ?? 0)) {
      couponOff.push(`${id}: ${took} used / ${get("CouponUsed", id)} CouponUsed, ${gave} restored`);
    }
  }
  bad("coupon usages not matching their events", couponOff);
  return v;
}
