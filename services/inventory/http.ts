/**
 * The inventory service's HTTP API. Every route needs a bearer token; any
 * user may read products, only an admin may change them.
 *
 *   GET  /products                 products by id (?limit=1..100, ?after=<id> for the next page)
 *   GET  /products/:id             one product, or 404
 *   POST /products                 admin: create { id?, name, price, stock } → 201, 409 if the id exists
 *   PUT  /products/:id/stock       admin: set the stock { stock } → 200, or 404
 *
 * Stock changes made by orders happen through events (handlers/), not here.
 *
 * @module
 */
import type { Hono } from "hono";
import { z } from "zod";
import type { Sql } from "../../db/mod.ts";
import {
  type AppEnv,
  authenticate,
  createApp,
  HttpError,
  type Logger,
  requireRole,
  validate,
} from "../../kit/mod.ts";
import { findProduct, insertProduct, listProducts, type Product, setStock } from "./store.ts";

const ID = /^[A-Za-z0-9_\-:.]+$/;
const productId = z.string().min(1).max(64).regex(ID, "may hold only letters, digits and _-:.");

export const CreateProductBody = z.strictObject({
  id: productId.optional(),
  name: z.string().trim().min(1).max(200),
  price: z.number().int().min(0).max(1_000_000_000),
  stock: z.number().int().min(0).max(1_000_000_000),
});

export const SetStockBody = z.strictObject({
  stock: z.number().int().min(0).max(1_000_000_000),
});

const IdParam = z.object({ id: productId });

const ListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).optional(),
  after: productId.optional(),
});

function view(p: Product) {
  return {
    id: p.id,
    name: p.name,
    price: p.price,
    stock: p.stock,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

export interface InventoryHttpDeps {
  sql: Sql;
  log?: Logger;
  /** Verifies bearer tokens; defaults to JWT_SECRET. */
  jwtSecret?: string;
}

/** The service's Hono app (with the kit's /health, errors and request ids). */
export function inventoryHttp(deps: InventoryHttpDeps): Hono<AppEnv> {
  const { sql } = deps;
  const app = createApp({
    service: "inventory",
    log: deps.log,
    checks: { db: () => sql`select 1` },
  });
  const auth = authenticate({ secret: deps.jwtSecret });
  app.use("/products", auth);
  app.use("/products/*", auth);

  app.get("/products", validate("query", ListQuery), async (c) => {
    const { limit = 50, after } = c.req.valid("query");
    const items = await listProducts(sql, { limit, after });
    const next = items.length === limit ? items[items.length - 1].id : null;
    return c.json({ items: items.map(view), next });
  });

  app.get("/products/:id", validate("param", IdParam), async (c) => {
    const { id } = c.req.valid("param");
    const product = await findProduct(sql, id);
    if (!product) throw new HttpError(404, `no product ${id}`);
    return c.json(view(product));
  });

  app.post("/products", requireRole("admin"), validate("json", CreateProductBody), async (c) => {
    const body = c.req.valid("json");
    const id = body.id ?? crypto.randomUUID();
    const product = await insertProduct(sql, { ...body, id });
    if (!product) {
      throw new HttpError(409, `product ${id} exists already`, { code: "product_exists" });
    }
    return c.json(view(product), 201, { Location: `/products/${id}` });
  });

  app.put(
    "/products/:id/stock",
    requireRole("admin"),
    validate("param", IdParam),
    validate("json", SetStockBody),
    async (c) => {
      const { id } = c.req.valid("param");
      const product = await setStock(sql, id, c.req.valid("json").stock);
      if (!product) throw new HttpError(404, `no product ${id}`);
      return c.json(view(product));
    },
  );

  return app;
}
