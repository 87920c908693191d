/**
 * The inventory service's SQL (schema `inventory`, reached through the
 * `inventory_service` role's search_path). Functions that must run inside a
 * consumer's or request's transaction take a `Tx`; reads take either.
 *
 * @module
 */
import type { Sql, Tx } from "../../db/mod.ts";
import type { DeductionFailure, Line, LineState } from "./domain/line.ts";

type Db = Sql | Tx;

/** A product as the service stores it. */
export interface Product {
  id: string;
  name: string;
  /** In the currency's smallest unit. */
  price: number;
  stock: number;
  createdAt: Date;
  updatedAt: Date;
}

interface ProductRow {
  id: string;
  name: string;
  price: string; // bigint arrives as a string
  stock: number;
  created_at: Date;
  updated_at: Date;
}

function toProduct(r: ProductRow): Product {
  return {
    id: r.id,
    name: r.name,
    price: Number(r.price),
    stock: r.stock,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Creates a product; null when one with this id exists already. */
export async function insertProduct(
  db: Db,
  p: { id: string; name: string; price: number; stock: number },
): Promise<Product | null> {
  const rows = await db<ProductRow[]>`
    insert into products (id, name, price, stock)
    values (${p.id}, ${p.name}, ${p.price}, ${p.stock})
    on conflict (id) do nothing
    returning *`;
  return rows.length === 1 ? toProduct(rows[0]) : null;
}

/** Sets a product's stock (an admin's count); null for an unknown product. */
export async function setStock(db: Db, id: string, stock: number): Promise<Product | null> {
  const rows = await db<ProductRow[]>`
    update products set stock = ${stock}, updated_at = now() where id = ${id} returning *`;
  return rows.length === 1 ? toProduct(rows[0]) : null;
}

export async function findProduct(db: Db, id: string): Promise<Product | null> {
  const rows = await db<ProductRow[]>`select * from products where id = ${id}`;
  return rows.length === 1 ? toProduct(rows[0]) : null;
}

/** Products in id order, `limit` of them after `after` (keyset paging). */
export async function listProducts(
  db: Db,
  opts: { limit: number; after?: string },
): Promise<Product[]> {
  const rows = opts.after === undefined
    ? await db<ProductRow[]>`select * from products order by id limit ${opts.limit}`
    : await db<ProductRow[]>`
      select * from products where id > ${opts.after} order by id limit ${opts.limit}`;
  return rows.map(toProduct);
}

/** Gives `quantity` back to the product; throws if the product is gone. */
export async function giveBackStock(tx: Tx, productId: string, quantity: number): Promise<void> {
  const rows = await tx`
    update products set stock = stock + ${quantity}, updated_at = now()
    where id = ${productId}
    returning id`;
  if (rows.length !== 1) {
    throw new Error(`cannot give ${quantity} back to product ${productId}: it no longer exists`);
  }
}

/**
 * Records the line in `state` unless it is known already: true when this
 * call created it. The primary key serialises a deduction and a restore of
 * the same line: the second insert waits for the first transaction, then
 * finds its row.
 */
export async function claimLine(
  tx: Tx,
  l: { orderId: string; line: number; productId: string; quantity: number },
  state: "PENDING" | "CANCELLED",
): Promise<boolean> {
  const rows = await tx`
    insert into deductions (order_id, line, product_id, quantity, state)
    values (${l.orderId}, ${l.line}, ${l.productId}, ${l.quantity}, ${state})
    on conflict (order_id, line) do nothing
    returning order_id`;
  return rows.length === 1;
}

/** What a first look at a deduction request found and did (claimAndTakeStock). */
export interface StockAttempt {
  /** The line was new: this request recorded it (PENDING) and owns its answer. */
  claimed: boolean;
  /** Claimed, and the stock had the quantity: it is taken. */
  taken: boolean;
  /** The product exists (for the reason of a refusal). */
  productExists: boolean;
}

/**
 * {@link claimLine} as PENDING and, only when that recorded the line,
 * takes `quantity` from the product's stock if it has that much (the guarded
 * update: no read-then-write race), in ONE statement (issue 16 item 4): a
 * deduction request's first round trip. A line already known takes nothing.
 */
export async function claimAndTakeStock(
  tx: Tx,
  l: { orderId: string; line: number; productId: string; quantity: number },
): Promise<StockAttempt> {
  const [r] = await tx<StockAttempt[]>`
    with claim as (
      insert into deductions (order_id, line, product_id, quantity, state)
      values (${l.orderId}, ${l.line}, ${l.productId}, ${l.quantity}, 'PENDING')
      on conflict (order_id, line) do nothing
      returning order_id
    ), take as (
      update products set stock = stock - ${l.quantity}, updated_at = now()
      where id = ${l.productId} and stock >= ${l.quantity} and exists (select from claim)
      returning id
    )
    select exists (select from claim) as claimed, exists (select from take) as taken,
           exists (select from products where id = ${l.productId}) as "productExists"`;
  return r;
}

interface LineRow {
  order_id: string;
  line: number;
  product_id: string;
  quantity: number;
  state: LineState;
  reason: DeductionFailure | null;
}

function toLine(r: LineRow): Line {
  return {
    orderId: r.order_id,
    line: r.line,
    productId: r.product_id,
    quantity: r.quantity,
    state: r.state,
    reason: r.reason,
  };
}

/** The line, locked until the transaction ends; null when unknown. */
export async function lockLine(tx: Tx, orderId: string, line: number): Promise<Line | null> {
  const rows = await tx<LineRow[]>`
    select order_id, line, product_id, quantity, state, reason from deductions
    where order_id = ${orderId} and line = ${line}
    for update`;
  return rows.length === 1 ? toLine(rows[0]) : null;
}

/**
 * Sets the line's state: awaited, a statement of its own; not awaited, a
 * fragment to run with the reply (db/outbox.ts withOutbox), in one statement.
 */
export function setLineState(
  tx: Tx,
  orderId: string,
  line: number,
  state: LineState,
  reason: DeductionFailure | null = null,
) {
  return tx`
    update deductions set state = ${state}, reason = ${reason}, updated_at = now()
    where order_id = ${orderId} and line = ${line}`;
}

/** Every line of an order, by line number (for people and tests). */
export async function linesOf(db: Db, orderId: string): Promise<Line[]> {
  const rows = await db<LineRow[]>`
    select order_id, line, product_id, quantity, state, reason from deductions
    where order_id = ${orderId} order by line`;
  return rows.map(toLine);
}
