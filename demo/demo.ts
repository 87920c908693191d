/**
 * The demo `./dev up` runs once the system is up: it seeds products, users,
 * points and coupons through the admin APIs, then places a mix of orders —
 * some complete, some are cancelled by stock, by a coupon, by points; in
 * parallel and in sequential mode — and prints each outcome as the order
 * service pushes it over the WebSocket; last, a first-come-first-served coupon
 * burst (bench/coupon_burst.ts) and its result.
 *
 *   ./dev deno run -A demo/demo.ts      (the services must be running)
 */
import { envInt } from "../kit/env.ts";
import { jwtSecret } from "../kit/env.ts";
import { issueToken } from "../kit/http/auth.ts";
import { couponBurst, describeBurst } from "../bench/coupon_burst.ts";

const ports = {
  order: envInt("ORDER_HTTP_PORT", 7101),
  inventory: envInt("INVENTORY_HTTP_PORT", 7102),
  coupon: envInt("COUPON_HTTP_PORT", 7103),
  point: envInt("POINT_HTTP_PORT", 7104),
};
const run = new Date().toISOString().slice(11, 19).replaceAll(":", "");

async function tokenFor(sub: string, roles: string[] = []) {
  return await issueToken(jwtSecret(), { sub, roles }, 3_600);
}

async function call<T>(
  port: number,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body ? { "Content-Type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(json)}`);
  return json as T;
}

const admin = await tokenFor("demo-admin", ["admin"]);
const keyboard = `keyboard-${run}`;
const lamp = `lamp-${run}`;
await call(ports.inventory, admin, "POST", "/products", {
  id: keyboard,
  name: "Keyboard",
  price: 45_000,
  stock: 50,
});
await call(ports.inventory, admin, "POST", "/products", {
  id: lamp,
  name: "Desk lamp",
  price: 30_000,
  stock: 2,
});
console.log(`seeded products ${keyboard} (stock 50) and ${lamp} (stock 2)`);

interface Demo {
  label: string;
  user: string;
  points: number;
  coupon: boolean;
  order: (c: { couponId?: string }) => Record<string, unknown>;
  mode: {
    strategy: "parallel" | "sequential" | "hybrid";
    parallelEnabled: boolean;
    parallelPercentage: number;
  };
}
const hybrid = { strategy: "hybrid" as const, parallelEnabled: true, parallelPercentage: 100 };
const sequential = {
  strategy: "sequential" as const,
  parallelEnabled: true,
  parallelPercentage: 100,
};
const parallel = { strategy: "parallel" as const, parallelEnabled: true, parallelPercentage: 100 };
const demos: Demo[] = [
  {
    label: "simple order (parallel)",
    user: "alice",
    points: 0,
    coupon: false,
    mode: hybrid,
    order: () => ({ items: [{ productId: keyboard, quantity: 1 }] }),
  },
  {
    label: "coupon + points (sequential)",
    user: "bob",
    points: 5_000,
    coupon: true,
    mode: hybrid,
    order: (c) => ({
      items: [{ productId: keyboard, quantity: 2 }],
      couponId: c.couponId,
      points: 2_000,
    }),
  },
  {
    label: "out of stock (parallel)",
    user: "carol",
    points: 0,
    coupon: false,
    mode: parallel,
    order: () => ({ items: [{ productId: lamp, quantity: 5 }] }),
  },
  {
    label: "not enough points (parallel: stock and coupon undone)",
    user: "dave",
    points: 100,
    coupon: true,
    mode: parallel,
    order: (c) => ({
      items: [{ productId: keyboard, quantity: 1 }],
      couponId: c.couponId,
      points: 1_000,
    }),
  },
  {
    label: "someone else's coupon (sequential: stock undone)",
    user: "erin",
    points: 0,
    coupon: false,
    mode: sequential,
    order: () => ({
      items: [{ productId: keyboard, quantity: 1 }],
      couponId: "coupon-that-is-not-erins",
    }),
  },
  {
    label: "points and two lines (sequential)",
    user: "frank",
    points: 10_000,
    coupon: false,
    mode: sequential,
    order: () => ({
      items: [{ productId: keyboard, quantity: 1 }, { productId: lamp, quantity: 1 }],
      points: 500,
    }),
  },
];

const saved = await call(ports.order, admin, "GET", "/admin/settings/mode");
const placedOrders = new Map<string, string>();
const finals = new Map<string, { status: string; reason: string | null }>();
const reported = new Set<string>();
const sockets: WebSocket[] = [];
/** Prints outcomes as they arrive; a notification may beat the POST's answer. */
function report(): void {
  for (const [orderId, label] of placedOrders) {
    const f = finals.get(orderId);
    if (!f || reported.has(orderId)) continue;
    reported.add(orderId);
    console.log(
      `  ${f.status.padEnd(9)} ${label}${f.reason ? ` — ${f.reason}` : ""}  (order ${orderId})`,
    );
  }
}
try {
  for (const d of demos) {
    const userId = `${d.user}-${run}`;
    const token = await tokenFor(userId);
    if (d.points > 0) {
      await call(ports.point, admin, "POST", "/admin/points/grant", { userId, amount: d.points });
    }
    const coupon = d.coupon
      ? await call<{ id: string }>(ports.coupon, admin, "POST", "/admin/coupons", {
        userId,
        discount: 5_000,
      })
      : undefined;
    const ws = new WebSocket(`ws://127.0.0.1:${ports.order}/orders/ws`, ["bearer", token]);
    sockets.push(ws);
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data) as { orderId: string; status: string; reason: string | null };
      if (m.status === "PENDING") return;
      finals.set(m.orderId, m);
      report();
    };
    await new Promise((r) => (ws.onopen = r));
    await call(ports.order, admin, "PUT", "/admin/settings/mode", d.mode);
    const placed = await call<{ orderId: string; mode: string }>(
      ports.order,
      token,
      "POST",
      "/orders",
      d.order({ couponId: coupon?.id }),
    );
    console.log(`  placed    ${d.label} [${placed.mode}]  (order ${placed.orderId}, 202 PENDING)`);
    placedOrders.set(placed.orderId, `${d.label} [${placed.mode}]`);
    report();
  }
  const deadline = Date.now() + 60_000;
  while (reported.size < demos.length) {
    if (Date.now() > deadline) {
      for (const [id, label] of placedOrders) {
        if (!reported.has(id)) console.log(`  ...still running: ${label}`);
      }
      throw new Error("the demo's orders did not all finish within 60 s");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(
    `demo: ${demos.length} orders placed, every one finished (see GET /orders/:id for each history)`,
  );
} finally {
  await call(ports.order, admin, "PUT", "/admin/settings/mode", saved);
  for (const ws of sockets) ws.close();
}

// First-come-first-served coupons (SPEC §5, issue #6): a burst of 2,000
// requests from 500 users for 100 coupons, decided by Redis, stored in Postgres.
const burst = { port: ports.coupon, total: 100, requests: 2_000, users: 500 };
console.log(describeBurst(await couponBurst(burst), burst.total, burst.users));
