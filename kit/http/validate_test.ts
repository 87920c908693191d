/**
 * validate(): handlers see only valid input; everything else is a 400
 * (not JSON), 415 (not sent as JSON) or 422 naming each wrong field.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { createApp } from "./app.ts";
import { validate } from "./validate.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

const PlaceOrder = z.object({
  userId: z.string().min(1),
  items: z.array(z.object({
    productId: z.string().min(1),
    quantity: z.number().int().positive("must be a positive integer"),
  })).min(1),
  couponId: z.string().optional(),
  points: z.number().int().min(0).default(0),
}).strict();

function orderApp() {
  const app = createApp({ service: "test", log: quiet });
  app.post("/orders", validate("json", PlaceOrder), (c) => {
    const order = c.req.valid("json");
    return c.json({ accepted: order.items.length, points: order.points }, 202);
  });
  app.get("/orders", validate("query", z.object({ page: z.coerce.number().int().min(1) })), (c) => {
    return c.json({ page: c.req.valid("query").page });
  });
  return app;
}

function post(body: string, contentType: string | null = "application/json") {
  return orderApp().request("/orders", {
    method: "POST",
    headers: contentType ? { "Content-Type": contentType } : {},
    body,
  });
}

Deno.test("a valid body reaches the handler, with defaults applied", async () => {
  const res = await post(
    JSON.stringify({ userId: "u-1", items: [{ productId: "p", quantity: 2 }] }),
  );
  assert.equal(res.status, 202);
  assert.deepEqual(await res.json(), { accepted: 1, points: 0 });
});

Deno.test("an invalid body is a 422 naming each wrong field and what is wrong", async () => {
  const res = await post(JSON.stringify({
    items: [{ productId: "p-1", quantity: 0 }, { productId: "", quantity: 1.5 }],
    points: -1,
    extra: true,
  }));
  assert.equal(res.status, 422);
  const body = await res.json();
  assert.equal(body.error.code, "validation_failed");
  assert.deepEqual(body.error.fields, {
    userId: "is required",
    "items.0.quantity": "must be a positive integer",
    "items.1.productId": "must have at least 1 character",
    "items.1.quantity": "must be an integer",
    points: "must be at least 0",
    extra: "is not allowed",
  });
  assert.match(body.error.message, /^invalid fields: userId, items\.0\.quantity/);
});

Deno.test("a wrongly typed field and an empty list are named", async () => {
  const res = await post(JSON.stringify({ userId: 42, items: [] }));
  assert.equal(res.status, 422);
  assert.deepEqual((await res.json()).error.fields, {
    userId: "must be a string",
    items: "must have at least 1 item",
  });
});

Deno.test("a body that is JSON but not an object is a 422 on the body", async () => {
  const res = await post("[1, 2]");
  assert.equal(res.status, 422);
  assert.deepEqual((await res.json()).error.fields, { body: "must be an object" });
});

Deno.test("malformed JSON is a 400 that says so", async () => {
  const res = await post('{"userId": "u-1", "items": [');
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), {
    error: { code: "bad_request", message: "Malformed JSON in request body" },
  });
});

Deno.test("a body sent as another media type is a 415", async (t) => {
  for (const type of ["text/plain", null]) {
    await t.step(String(type), async () => {
      const res = await post(JSON.stringify({ userId: "u" }), type);
      assert.equal(res.status, 415);
      assert.equal((await res.json()).error.code, "unsupported_media_type");
    });
  }
});

Deno.test("query parameters are validated too, wrong ones named", async () => {
  const app = orderApp();
  assert.deepEqual(await (await app.request("/orders?page=3")).json(), { page: 3 });
  const res = await app.request("/orders?page=0");
  assert.equal(res.status, 422);
  assert.deepEqual((await res.json()).error.fields, { page: "must be at least 1" });
});

Deno.test("a NUL character, which Postgres cannot store, is a 422 (body) or a 400 (URL)", async () => {
  const res = await post(
    JSON.stringify({ userId: "u\u0000", items: [{ productId: "p\u0000", quantity: 1 }] }),
  );
  assert.equal(res.status, 422);
  assert.deepEqual((await res.json()).error.fields, {
    userId: "must not contain NUL characters",
    "items.0.productId": "must not contain NUL characters",
  });
  const url = await orderApp().request("/orders?page=1%00");
  assert.equal(url.status, 400);
});

Deno.test("a bodiless POST over HTTP (Content-Length: 0) is validated as an empty object", async () => {
  const app = createApp({ service: "test", log: quiet });
  app.post(
    "/replay",
    validate("json", z.object({ limit: z.number().optional() })),
    (c) => c.json(c.req.valid("json")),
  );
  const res = await app.request("/replay", {
    method: "POST",
    headers: { "Content-Length": "0" },
    body: new ReadableStream({ start: (c) => c.close() }),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {});
});

Deno.test("a lone UTF-16 surrogate, which is no Unicode text, is a 422 naming the field", async () => {
  // JSON may spell one (`"\ud800"`); Postgres refuses it in jsonb (22P02) and
  // turns it into U+FFFD in text, so it must not get past validation.
  const res = await post(
    '{"userId":"u\\udc00","items":[{"productId":"\\ud800","quantity":1}]}',
  );
  assert.equal(res.status, 422);
  assert.deepEqual((await res.json()).error.fields, {
    userId: "must be well-formed Unicode (no lone UTF-16 surrogates)",
    "items.0.productId": "must be well-formed Unicode (no lone UTF-16 surrogates)",
  });
  const pair = await post('{"userId":"\\ud83d\\ude00","items":[{"productId":"p","quantity":1}]}');
  assert.equal(pair.status, 202, "a surrogate pair (😀) is well-formed");
});

Deno.test("a key that is a lone surrogate is refused too", async () => {
  const app = createApp({ service: "test", log: quiet });
  app.post("/tags", validate("json", z.record(z.string(), z.number())), (c) => c.json({}));
  const res = await app.request("/tags", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: '{"ok":1,"\\ud800":2}',
  });
  assert.equal(res.status, 422);
  assert.deepEqual((await res.json()).error.fields, {
    "\ud800": "must be well-formed Unicode (no lone UTF-16 surrogates)",
  });
});

Deno.test("a URL whose percent-escapes are not UTF-8 (an encoded surrogate) is a 400", async () => {
  for (const url of ["/orders?page=1%ED%A0%80", "/orders/%ED%A0%80", "/orders?page=%FF"]) {
    const res = await orderApp().request(url);
    assert.equal(res.status, 400, url);
    assert.match((await res.json()).error.message, /UTF-8/, url);
  }
});
