/**
 * The inventory HTTP API through `app.request` (no server), against the real
 * Postgres: who may do what, validation at the edge, and nothing written on
 * a refused request.
 */
import assert from "node:assert/strict";
import { issueToken } from "../../kit/mod.ts";
import { inventoryHttp } from "./http.ts";
import { type InventoryFixture, inventoryFixture } from "./testing.ts";

const SECRET = crypto.randomUUID() + crypto.randomUUID();
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const admin = await issueToken(SECRET, { sub: "ops-1", roles: ["admin"] }, 300);
const customer = await issueToken(SECRET, { sub: "user-1" }, 300);

function client(f: InventoryFixture) {
  const app = inventoryHttp({ sql: f.sql, log: quiet, jwtSecret: SECRET });
  return (method: string, path: string, opts: { token?: string; body?: unknown } = {}) =>
    app.request(path, {
      method,
      headers: {
        ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.body !== undefined ? { "Content-Type": "application/json" } : {}),
      },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
}

Deno.test("an admin creates a product; any user reads it", async () => {
  await using f = await inventoryFixture();
  const http = client(f);
  const id = f.track(f.productId());
  const res = await http("POST", "/products", {
    token: admin,
    body: { id, name: "Keyboard", price: 45000, stock: 7 },
  });
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("Location"), `/products/${id}`);
  const created = await res.json();
  assert.deepEqual(
    { ...created, createdAt: undefined, updatedAt: undefined },
    { id, name: "Keyboard", price: 45000, stock: 7, createdAt: undefined, updatedAt: undefined },
  );
  const got = await http("GET", `/products/${id}`, { token: customer });
  assert.equal(got.status, 200);
  assert.equal((await got.json()).stock, 7);
});

Deno.test("a product created without an id gets one", async () => {
  await using f = await inventoryFixture();
  const res = await client(f)("POST", "/products", {
    token: admin,
    body: { name: "Mouse", price: 0, stock: 0 },
  });
  assert.equal(res.status, 201);
  const { id } = await res.json();
  f.track(id);
  assert.match(id, /^[0-9a-f-]{36}$/);
});

Deno.test("creating a product whose id exists is a 409 and changes nothing", async () => {
  await using f = await inventoryFixture();
  const id = await f.product(5);
  const res = await client(f)("POST", "/products", {
    token: admin,
    body: { id, name: "Other", price: 1, stock: 99 },
  });
  assert.equal(res.status, 409);
  assert.equal((await res.json()).error.code, "product_exists");
  assert.equal(await f.stockOf(id), 5);
});

Deno.test("an invalid product is a 422 naming each wrong field, and nothing is written", async () => {
  await using f = await inventoryFixture();
  const id = f.productId();
  const res = await client(f)("POST", "/products", {
    token: admin,
    body: { id, name: "", price: -1, stock: 1.5, colour: "red" },
  });
  assert.equal(res.status, 422);
  const { error } = await res.json();
  assert.equal(error.code, "validation_failed");
  assert.deepEqual(Object.keys(error.fields).sort(), ["colour", "name", "price", "stock"]);
  assert.equal(await (await client(f)("GET", `/products/${id}`, { token: admin })).status, 404);
});

Deno.test("a body that is not JSON is a 400", async () => {
  await using f = await inventoryFixture();
  const app = inventoryHttp({ sql: f.sql, log: quiet, jwtSecret: SECRET });
  const res = await app.request("/products", {
    method: "POST",
    headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
    body: "{not json",
  });
  assert.equal(res.status, 400);
});

Deno.test("an admin sets the stock; an unknown product is a 404", async () => {
  await using f = await inventoryFixture();
  const http = client(f);
  const id = await f.product(5);
  const res = await http("PUT", `/products/${id}/stock`, { token: admin, body: { stock: 12 } });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).stock, 12);
  assert.equal(await f.stockOf(id), 12);
  const missing = await http("PUT", `/products/${f.productId()}/stock`, {
    token: admin,
    body: { stock: 1 },
  });
  assert.equal(missing.status, 404);
  const negative = await http("PUT", `/products/${id}/stock`, {
    token: admin,
    body: { stock: -1 },
  });
  assert.equal(negative.status, 422);
  assert.deepEqual(Object.keys((await negative.json()).error.fields), ["stock"]);
  assert.equal(await f.stockOf(id), 12);
});

Deno.test("a customer may not create products nor set stock (403), and nothing changes", async () => {
  await using f = await inventoryFixture();
  const http = client(f);
  const id = await f.product(5);
  const set = await http("PUT", `/products/${id}/stock`, { token: customer, body: { stock: 0 } });
  assert.equal(set.status, 403);
  const other = f.productId();
  const create = await http("POST", "/products", {
    token: customer,
    body: { id: other, name: "X", price: 1, stock: 1 },
  });
  assert.equal(create.status, 403);
  assert.equal(await f.stockOf(id), 5);
  assert.equal((await http("GET", `/products/${other}`, { token: admin })).status, 404);
});

Deno.test("every products route needs a token (401)", async () => {
  await using f = await inventoryFixture();
  const http = client(f);
  const id = await f.product(5);
  for (
    const [method, path, body] of [
      ["GET", "/products"],
      ["GET", `/products/${id}`],
      ["POST", "/products", { name: "X", price: 1, stock: 1 }],
      ["PUT", `/products/${id}/stock`, { stock: 0 }],
    ] as const
  ) {
    const res = await http(method, path, { body });
    assert.equal(res.status, 401, `${method} ${path}`);
  }
  assert.equal(await f.stockOf(id), 5);
});

Deno.test("GET /products pages through products by id", async () => {
  await using f = await inventoryFixture();
  const http = client(f);
  const prefix = f.productId();
  const ids = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
  for (const id of ids) await f.product(1, id);
  const first = await http("GET", `/products?limit=2&after=${prefix}`, { token: customer });
  assert.equal(first.status, 200);
  const page1 = await first.json();
  assert.deepEqual(page1.items.map((p: { id: string }) => p.id), ids.slice(0, 2));
  assert.equal(page1.next, ids[1]);
  const page2 = await (await http("GET", `/products?limit=2&after=${page1.next}`, {
    token: customer,
  })).json();
  assert.equal(page2.items[0].id, ids[2]);
  const bad = await http("GET", "/products?limit=0", { token: customer });
  assert.equal(bad.status, 422);
  assert.deepEqual(Object.keys((await bad.json()).error.fields), ["limit"]);
});

Deno.test("GET /health checks the database", async () => {
  await using f = await inventoryFixture();
  const res = await client(f)("GET", "/health");
  assert.equal(res.status, 200);
  assert.deepEqual((await res.json()).checks, { db: "ok" });
});
