/**
 * Test fixture for the inventory service's tests, against the real Postgres
 * of `./dev`: a pool logged in as `inventory_service`, unique ids, delivery
 * of a command the way the consumer loop does it (inbox claim, then the
 * handler, in one transaction), and clean-up of every row the test made.
 *
 * @module
 */
import { claimInbox, connectAdmin, connectService, type Sql, type Tx } from "../../db/mod.ts";
import { ensureMigrated, uniqueName } from "../../db/testing.ts";
import type { Line } from "./domain/line.ts";
import { linesOf } from "./store.ts";

export { uniqueName };

/** An outbox row, as the tests look at it. */
export interface SentEvent {
  eventType: string;
  topic: string;
  key: string;
  payload: Record<string, unknown>;
}

export class InventoryFixture {
  readonly sql: Sql;
  /** The inbox consumer name this fixture's deliveries claim under. */
  readonly consumer = uniqueName("inventory_test");
  #products = new Set<string>();
  #orders = new Set<string>();

  constructor() {
    this.sql = connectService("inventory_service", { max: 4 });
  }

  /** A product id this fixture removes at the end. */
  productId(): string {
    const id = uniqueName("p");
    this.#products.add(id);
    return id;
  }

  /** Marks a product id (made elsewhere, e.g. over HTTP) for removal at the end. */
  track(productId: string): string {
    this.#products.add(productId);
    return productId;
  }

  /** An order id whose lines this fixture removes at the end. */
  orderId(): string {
    const id = uniqueName("o");
    this.#orders.add(id);
    return id;
  }

  /** Creates a product with `stock` (price 1000). */
  async product(stock: number, id = this.productId()): Promise<string> {
    this.#products.add(id);
    await this.sql`insert into products (id, name, price, stock) values (${id}, ${
      "test " + id
    }, 1000, ${stock})`;
    return id;
  }

  async stockOf(productId: string): Promise<number> {
    const [row] = await this.sql<
      { stock: number }[]
    >`select stock from products where id = ${productId}`;
    return row.stock;
  }

  lines(orderId: string): Promise<Line[]> {
    return linesOf(this.sql, orderId);
  }

  /**
   * Runs `handler` as the consumer loop would for event `eventId`: claim the
   * inbox, then handle, in one transaction. Undefined for a duplicate.
   */
  deliver<T>(
    handler: (tx: Tx, payload: unknown) => Promise<T>,
    payload: unknown,
    eventId: string = crypto.randomUUID(),
  ): Promise<T | undefined> {
    return this.sql.begin(async (tx) => {
      if (!await claimInbox(tx, this.consumer, eventId)) return undefined;
      return await handler(tx, payload);
    }) as Promise<T | undefined>;
  }

  /** The events written for `orderId`, oldest first. */
  async sent(orderId: string): Promise<SentEvent[]> {
    const rows = await this.sql<
      { event_type: string; topic: string; key: string; payload: Record<string, unknown> }[]
    >`
      select event_type, topic, key, payload from outbox
      where payload ->> 'orderId' = ${orderId}
      order by created_at`;
    return rows.map((r) => ({
      eventType: r.event_type,
      topic: r.topic,
      key: r.key,
      payload: r.payload,
    }));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const orders = [...this.#orders];
    const products = [...this.#products];
    await this.sql.end();
    const admin = connectAdmin({ max: 1 });
    try {
      if (orders.length > 0) {
        await admin`delete from inventory.deductions where order_id in ${admin(orders)}`;
        await admin`delete from inventory.outbox where payload ->> 'orderId' in ${admin(orders)}`;
      }
      await admin`delete from inventory.inbox where consumer = ${this.consumer}`;
      if (products.length > 0) {
        await admin`delete from inventory.outbox where aggregate_id in ${admin(products)}`;
        await admin`delete from inventory.products where id in ${admin(products)}`;
      }
    } finally {
      await admin.end();
    }
  }
}

/** A fixture, once the database is migrated; `await using f = await inventoryFixture()`. */
export async function inventoryFixture(): Promise<InventoryFixture> {
  await ensureMigrated();
  return new InventoryFixture();
}
