/**
 * What the bad-input suite's requests could have written, counted per
 * table: rows whose id or name carries the run's mark or that belong to one
 * of the run's users, the order mode settings, and the dead letters an
 * attacker could have replayed or resolved. Scoped so other tests writing at
 * the same time do not change the numbers.
 *
 * @module
 */
import { connectAdmin } from "../../db/mod.ts";

export async function writtenFor(
  mark: string,
  users: string[],
  productId: string,
): Promise<Record<string, unknown>> {
  const sql = connectAdmin({ max: 1 });
  const like = `${mark}%`;
  const count = async (what: Promise<{ n: number }[]>) => (await what)[0].n;
  try {
    const campaigns = await sql`select to_regclass('coupons.campaigns') is not null as there`;
    return {
      orders: await count(
        sql`select count(*)::int as n from orders.orders where user_id in ${sql(users)}`,
      ),
      orderOutbox: await count(sql`
        select count(*)::int as n from orders.outbox where payload ->> 'userId' in ${sql(users)}`),
      orderHistory: await count(sql`
        select count(*)::int as n from orders.order_history h join orders.orders o on o.id = h.order_id
        where o.user_id in ${sql(users)}`),
      settings: (await sql`select * from orders.settings`).map((r) => ({ ...r })),
      products: await count(sql`
        select count(*)::int as n from inventory.products where id like ${like} or name like ${like}`),
      stock: (await sql`select stock from inventory.products where id = ${productId}`)[0]?.stock,
      coupons: await count(sql`
        select count(*)::int as n from coupons.coupons where user_id in ${
        sql(users)
      } or id like ${like}`),
      campaigns: campaigns[0].there
        ? await count(sql`
          select count(*)::int as n from coupons.campaigns where id like ${like} or name like ${like}`)
        : null,
      balances: (await sql`
        select user_id, balance from points.balances where user_id in ${sql(users)} order by 1`)
        .map((r) => ({ ...r })),
      movements: await count(sql`
        select count(*)::int as n from points.movements where user_id in ${sql(users)}`),
      deadLettersTouched: await count(sql`
        select count(*)::int as n from deadletters.history
        where action in ('replayed', 'resolved')
          and detail like any (${sql.array(users.map((u) => `%${u}%`))}::text[])`),
    };
  } finally {
    await sql.end();
  }
}
