/**
 * Test fixture for the inventory service's tests: the participant fixture of
 * tests/support/participant_fixture.ts (a pool logged in as `inventory_service`,
 * order ids, delivery through the inbox, the events sent, clean-up) plus
 * its products and lines.
 *
 * @module
 */
import type { Sql } from "../../db/mod.ts";
import { ensureMigrated } from "../../db/testing.ts";
import {
  ParticipantFixture,
  type SentEvent,
  uniqueName,
} from "../../tests/support/participant_fixture.ts";
import type { Line } from "./domain/line.ts";
import { linesOf } from "./store.ts";

export { type SentEvent, uniqueName };

export class InventoryFixture extends ParticipantFixture {
  #products = new Set<string>();

  constructor() {
    super({
      name: "inventory",
      role: "inventory_service",
      schema: "inventory",
      records: "deductions",
    });
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

  protected override async cleanUpOwn(admin: Sql): Promise<void> {
    const products = [...this.#products];
    if (products.length > 0) {
      await admin`delete from inventory.outbox where aggregate_id in ${admin(products)}`;
      await admin`delete from inventory.products where id in ${admin(products)}`;
    }
  }
}

/** A fixture, once the database is migrated; `await using f = await inventoryFixture()`. */
export async function inventoryFixture(): Promise<InventoryFixture> {
  await ensureMigrated();
  return new InventoryFixture();
}
