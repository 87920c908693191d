/**
 * Points are conserved: after any sequence of grants, deductions and
 * restores — repeated, reordered, concurrent, restores overtaking their
 * deductions — each balance equals its grants minus what DEDUCTED orders
 * hold, equals the sum of its movements, and is never negative. The seed is
 * printed so a failure can be replayed (`INVARIANT_SEED=… deno test …`).
 */
import assert from "node:assert/strict";
import { handlePointDeductionRequested as deduct } from "./handlers/point_deduction_requested.ts";
import { handlePointRestoreRequested as restore } from "./handlers/point_restore_requested.ts";
import { grantPoints } from "./store.ts";
import { pointFixture } from "./testing.ts";

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

Deno.test("balance = grants − points held by deducted orders = sum of movements", async () => {
  const seed = Number(Deno.env.get("INVARIANT_SEED") ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`seed ${seed}`);
  const rnd = random(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];

  await using f = await pointFixture();
  const granted = new Map<string, number>();
  for (let i = 0; i < 3; i++) {
    const points = 100 + Math.floor(rnd() * 900);
    granted.set(await f.user(points), points);
  }
  const users = [...granted.keys()];
  const orders = Array.from({ length: 16 }, () => ({
    orderId: f.orderId(),
    userId: pick(users),
    amount: 10 + Math.floor(rnd() * 300),
  }));

  for (let round = 0; round < 15; round++) {
    const burst = Array.from({ length: 8 }, async () => {
      const o = pick(orders);
      const r = rnd();
      if (r < 0.1) {
        const extra = 1 + Math.floor(rnd() * 100);
        granted.set(o.userId, granted.get(o.userId)! + extra);
        await f.sql.begin((tx) => grantPoints(tx, o.userId, extra));
        return;
      }
      const eventId = rnd() < 0.2 ? `${o.orderId}-dup` : crypto.randomUUID();
      if (r < 0.6) await f.deliver(deduct, o, `${eventId}-d`);
      else await f.deliver(restore, o, `${eventId}-r`);
    });
    await Promise.all(burst);

    const rows = await f.sql<{ user_id: string; held: string }[]>`
      select user_id, coalesce(sum(amount) filter (where state = 'DEDUCTED'), 0) as held
      from deductions where order_id in ${f.sql(orders.map((o) => o.orderId))} group by user_id`;
    const held = new Map(rows.map((r) => [r.user_id, Number(r.held)]));
    for (const userId of users) {
      const balance = (await f.balanceOf(userId))!;
      assert.ok(balance >= 0, `balance of ${userId} is ${balance}`);
      assert.equal(
        balance,
        granted.get(userId)! - (held.get(userId) ?? 0),
        `round ${round}, seed ${seed}`,
      );
      assert.equal(await f.movementsOf(userId), balance, `seed ${seed}`);
    }
  }

  for (const o of orders) await f.deliver(restore, o);
  for (const userId of users) {
    assert.equal(await f.balanceOf(userId), granted.get(userId), `seed ${seed}`);
  }
});
