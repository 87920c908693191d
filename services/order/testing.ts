/**
 * For the order service's tests against the shared database.
 *
 * @module
 */
import type { Sql } from "../../db/mod.ts";

/**
 * Removes the orders of the users matching `userLike` (a LIKE pattern), their
 * history and their outbox rows. Connect as the superuser. A test's orders
 * left PENDING would count as sagas in flight for admission control
 * (admission/) in every other test until swept.
 */
export async function removeOrdersOf(admin: Sql, userLike: string): Promise<void> {
  const ids = admin`select id from orders.orders where user_id like ${userLike}`;
  await admin`delete from orders.order_history where order_id in (${ids})`;
  await admin`delete from orders.outbox where aggregate_type = 'order' and aggregate_id::uuid in (${ids})`;
  await admin`delete from orders.orders where user_id like ${userLike}`;
}
