/**
 * The recovery probe: an order that needs every part of the system (the
 * order service, the relay, Kafka, inventory, a coupon, points) — placed
 * after a fault was repaired, its completion says the system works again.
 *
 * @module
 */
import { sleep } from "../tests/support/dev.ts";
import type { ManagedProcess } from "../tests/support/process.ts";
import type { OrderView, Suite } from "../tests/support/suite.ts";
import { callOnce } from "./http.ts";
import { type PlacedOrder, placeOrder } from "./load.ts";
import { grantCoupon, type World } from "./world.ts";

/** Polls the order until its saga settled; its final view, or undefined at the deadline. */
export async function waitSettled(
  suite: Suite,
  world: World,
  orderId: string,
  until: number,
): Promise<OrderView | undefined> {
  for (let i = 0; Date.now() < until; i++) {
    try {
      const res = await callOnce<OrderView>(
        world.admin,
        suite.orders[i % suite.orders.length],
        "GET",
        `/orders/${orderId}`,
        undefined,
        {},
        3_000,
      );
      const o = res.body;
      const busy = o.steps?.some((s) => s.state === "REQUESTED" || s.state === "COMPENSATING");
      if ((o.status === "COMPLETED" || o.status === "CANCELLED") && !busy) return o;
    } catch { /* not answering yet */ }
    await sleep(200);
  }
  return undefined;
}

/**
 * Places probes (on `targets`) until one COMPLETES; resolves with the
 * probes placed and whether one completed before `timeoutMs`.
 */
export async function probeUntilCompleted(
  suite: Suite,
  world: World,
  timeoutMs: number,
  targets: ManagedProcess[] = suite.orders,
): Promise<{ ok: boolean; placed: PlacedOrder[]; note: string }> {
  const until = Date.now() + timeoutMs;
  const placed: PlacedOrder[] = [];
  let note = "";
  while (Date.now() < until) {
    let couponId: string;
    try {
      couponId = await grantCoupon(suite, world, world.probe);
    } catch (err) {
      note = `coupon grant: ${(err as Error).message}`;
      await sleep(500);
      continue;
    }
    const r = await placeOrder(
      suite,
      world.probe,
      { items: [{ productId: world.probeProduct, quantity: 1 }], couponId, points: 1 },
      targets,
      Math.max(1_000, until - Date.now()),
    );
    if (typeof r === "string") {
      note = r;
      await sleep(500);
      continue;
    }
    placed.push(r);
    const o = await waitSettled(suite, world, r.orderId, until);
    if (o?.status === "COMPLETED") return { ok: true, placed, note: "" };
    note = o ? `probe ${r.orderId} ${o.status}: ${o.reason}` : `probe ${r.orderId} did not settle`;
  }
  return { ok: false, placed, note };
}
