/**
 * The steady load of a chaos run: orders at a fixed rate (random lines, a
 * coupon in about 40 % — mostly the user's own, sometimes someone else's —
 * and points in about 35 %), and admin coupon grants that later orders use.
 * Each order carries an Idempotency-Key and is retried (on either order
 * instance) until the service accepts it, so a kill or restart never loses
 * or doubles an order the client thinks it placed.
 *
 * @module
 */
import { sleep } from "../tests/support/dev.ts";
import type { OrderView, Suite } from "../tests/support/suite.ts";
import { callRetrying } from "./http.ts";
import { type ChaosUser, grantCoupon, type World } from "./world.ts";

export interface PlacedOrder {
  orderId: string;
  userId: string;
  /** Tries it took: more than one means a fault was ridden out. */
  attempts: number;
}

export interface LoadStats {
  placed: PlacedOrder[];
  /** Orders the service refused (4xx) or that no instance accepted in time. */
  failed: string[];
  couponGrants: number;
  couponGrantFailures: string[];
}

function pick<T>(xs: T[]): T {
  return xs[Math.floor(Math.random() * xs.length)];
}

/** The body of one random order of `user`. */
export function randomOrder(world: World, user: ChaosUser) {
  const products = [...world.products.keys()].filter((p) => p !== world.probeProduct);
  const lines = 1 + Math.floor(Math.random() * 3);
  const items = Array.from({ length: lines }, () => ({
    productId: pick(products),
    quantity: 1 + Math.floor(Math.random() * 3),
  }));
  const r = Math.random();
  const others = world.users.filter((u) => u !== user && u.coupons.length > 0);
  const couponId = r < 0.35 && user.coupons.length > 0
    // Mostly the newest coupons: older ones are likely used already.
    ? user.coupons[Math.max(0, user.coupons.length - 1 - Math.floor(Math.random() * 2))]
    : r < 0.4 && others.length > 0
    ? pick(pick(others).coupons)
    : undefined;
  const points = Math.random() < 0.35 ? 50 + Math.floor(Math.random() * 350) : undefined;
  return { items, couponId, points };
}

/** Places one order, retrying with one Idempotency-Key; the order, or a failure text. */
export async function placeOrder(
  suite: Suite,
  user: ChaosUser,
  body: unknown,
  targets = suite.orders,
  deadlineMs = 180_000,
): Promise<PlacedOrder | string> {
  const key = crypto.randomUUID();
  try {
    const res = await callRetrying<OrderView>(
      user.client,
      [...targets].sort(() => Math.random() - 0.5),
      "POST",
      "/orders",
      body,
      { "Idempotency-Key": key },
      deadlineMs,
    );
    if (res.status !== 202) {
      return `order refused: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
    }
    return { orderId: res.body.orderId, userId: user.client.userId, attempts: res.attempts };
  } catch (err) {
    return `order not accepted: ${(err as Error).message}`;
  }
}

/** Runs the load until `stop` is aborted; resolves when every request in flight has ended. */
export async function runLoad(
  suite: Suite,
  world: World,
  opts: { ratePerS: number; couponGrantsPerS: number; maxInFlight?: number },
  stop: AbortSignal,
): Promise<LoadStats> {
  const stats: LoadStats = { placed: [], failed: [], couponGrants: 0, couponGrantFailures: [] };
  const inFlight = new Set<Promise<void>>();
  const maxInFlight = opts.maxInFlight ?? 64;
  const track = (p: Promise<void>) => {
    inFlight.add(p);
    p.finally(() => inFlight.delete(p));
  };
  const orders = async () => {
    const every = 1_000 / opts.ratePerS;
    let next = Date.now();
    while (!stop.aborted) {
      if (inFlight.size < maxInFlight) {
        const user = pick(world.users);
        track(
          placeOrder(suite, user, randomOrder(world, user)).then((r) => {
            if (typeof r === "string") stats.failed.push(r);
            else stats.placed.push(r);
          }),
        );
      }
      next += every;
      await sleep(Math.max(0, next - Date.now()));
    }
  };
  const grants = async () => {
    if (opts.couponGrantsPerS <= 0) return;
    const every = 1_000 / opts.couponGrantsPerS;
    while (!stop.aborted) {
      track(
        grantCoupon(suite, world, pick(world.users)).then(
          () => void stats.couponGrants++,
          (err) => void stats.couponGrantFailures.push((err as Error).message),
        ),
      );
      await sleep(every);
    }
  };
  await Promise.all([orders(), grants()]);
  while (inFlight.size > 0) await Promise.all([...inFlight]);
  return stats;
}
