/**
 * A coupon is used at most once: after any sequence of usages and restores
 * — by owners and others, repeated, reordered, concurrent, restores
 * overtaking their usages — every coupon is USED exactly when one usage of
 * it is USED, by the order the coupon names, and AVAILABLE otherwise. The
 * seed is printed so a failure can be replayed (`INVARIANT_SEED=… deno test …`).
 */
import assert from "node:assert/strict";
import { handleCouponRestoreRequested as restore } from "./handlers/coupon_restore_requested.ts";
import { handleCouponUsageRequested as use } from "./handlers/coupon_usage_requested.ts";
import { couponFixture } from "./testing.ts";

/** A small seeded generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("every coupon is held by at most one order, and USED exactly when held", async () => {
  const seed = Number(Deno.env.get("INVARIANT_SEED") ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`seed ${seed}`);
  const rnd = random(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];

  await using f = await couponFixture();
  const users = [f.userId(), f.userId()];
  const coupons: { id: string; userId: string }[] = [];
  for (let i = 0; i < 4; i++) {
    const userId = pick(users);
    coupons.push({ id: await f.coupon(userId), userId });
  }
  // An order asks for one coupon, mostly its user's own.
  const orders = Array.from({ length: 14 }, () => {
    const coupon = pick(coupons);
    return {
      orderId: f.orderId(),
      couponId: coupon.id,
      userId: rnd() < 0.85 ? coupon.userId : pick(users),
    };
  });
  const ids = coupons.map((c) => c.id);

  for (let round = 0; round < 15; round++) {
    await Promise.all(Array.from({ length: 8 }, () => {
      const o = pick(orders);
      const eventId = rnd() < 0.2 ? `${o.orderId}-dup` : crypto.randomUUID();
      return rnd() < 0.6
        ? f.deliver(use, o, `${eventId}-u`)
        : f.deliver(restore, { orderId: o.orderId, couponId: o.couponId }, `${eventId}-r`);
    }));

    const rows = await f.sql<
      { id: string; status: string; used_by_order: string | null; holders: string[] }[]
    >`
      select c.id, c.status, c.used_by_order,
             coalesce(array_agg(u.order_id) filter (where u.state = 'USED'), '{}') as holders
      from coupons c left join usages u on u.coupon_id = c.id
      where c.id in ${f.sql(ids)}
      group by c.id, c.status, c.used_by_order`;
    for (const r of rows) {
      const where = `round ${round}, coupon ${r.id} (seed ${seed})`;
      assert.ok(r.holders.length <= 1, where);
      if (r.status === "USED") assert.deepEqual(r.holders, [r.used_by_order], where);
      else assert.deepEqual([r.holders, r.used_by_order], [[], null], where);
    }
    // Only an owner ever holds a coupon.
    const foreign = await f.sql`
      select 1 from usages u join coupons c on c.id = u.coupon_id
      where u.state = 'USED' and u.user_id <> c.user_id and c.id in ${f.sql(ids)}`;
    assert.equal(foreign.length, 0, `seed ${seed}`);
  }

  for (const o of orders) await f.deliver(restore, { orderId: o.orderId, couponId: o.couponId });
  for (const id of ids) assert.equal((await f.find(id))?.status, "AVAILABLE", `seed ${seed}`);
});
