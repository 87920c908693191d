/**
 * The error shape: every failure answers `{ error: { code, message, fields? } }`
 * with its status, and a 500 tells the client nothing about its cause.
 */
import assert from "node:assert/strict";
import { HTTPException } from "hono/http-exception";
import type { Logger } from "../log.ts";
import { createApp } from "./app.ts";
import { HttpError, ValidationError } from "./errors.ts";

/** A logger that keeps what it is given, to check what reaches the log. */
function memoryLogger(): Logger & {
  lines: { message: string; fields?: Record<string, unknown> }[];
} {
  const lines: { message: string; fields?: Record<string, unknown> }[] = [];
  const keep = (message: string, fields?: Record<string, unknown>) =>
    lines.push({ message, fields });
  return { lines, debug: keep, info: keep, warn: keep, error: keep };
}

function appThrowing(err: unknown, log = memoryLogger()) {
  const app = createApp({ service: "test", log });
  app.get("/boom", () => {
    throw err;
  });
  return app;
}

Deno.test("an HttpError is answered with its status, its code and its message", async (t) => {
  const cases: [HttpError, number, string][] = [
    [new HttpError(400, "the order has no items"), 400, "bad_request"],
    [new HttpError(401, "who are you"), 401, "unauthorized"],
    [new HttpError(403, "not yours"), 403, "forbidden"],
    [new HttpError(404, "no such order"), 404, "not_found"],
    [
      new HttpError(409, "this coupon is sold out", { code: "coupon_sold_out" }),
      409,
      "coupon_sold_out",
    ],
    [
      new ValidationError({ "items.0.quantity": "must be a positive integer" }),
      422,
      "validation_failed",
    ],
  ];
  for (const [err, status, code] of cases) {
    await t.step(`${status} ${code}`, async () => {
      const res = await appThrowing(err).request("/boom");
      assert.equal(res.status, status);
      assert.match(res.headers.get("Content-Type") ?? "", /^application\/json/);
      const body = await res.json();
      const expected: Record<string, unknown> = { code, message: err.message };
      if (err.fields) expected.fields = err.fields;
      assert.deepEqual(body, { error: expected });
    });
  }
});

Deno.test("a ValidationError names its fields in the message and lists them in fields", () => {
  const err = new ValidationError({
    userId: "is required",
    "items.0.quantity": "must be at least 1",
  });
  assert.equal(err.status, 422);
  assert.equal(err.message, "invalid fields: userId, items.0.quantity");
});

Deno.test("an HttpError's headers are sent with the error", async () => {
  const res = await appThrowing(
    new HttpError(401, "token expired", { headers: { "WWW-Authenticate": "Bearer" } }),
  ).request("/boom");
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("WWW-Authenticate"), "Bearer");
});

Deno.test("a plain HTTPException keeps its status and gets the status's code", async () => {
  const res = await appThrowing(new HTTPException(409, { message: "already there" })).request(
    "/boom",
  );
  assert.equal(res.status, 409);
  assert.deepEqual(await res.json(), { error: { code: "conflict", message: "already there" } });
});

Deno.test("an unexpected error is a 500 that leaks nothing, logged with the request id", async () => {
  const log = memoryLogger();
  const secret = "password authentication failed for user order_service at 10.0.0.7";
  const res = await appThrowing(new Error(secret), log).request("/boom", {
    headers: { "X-Request-Id": "req-123" },
  });
  assert.equal(res.status, 500);
  const text = await res.text();
  assert.doesNotMatch(text, /password|order_service|10\.0\.0\.7|Error|at /);
  assert.deepEqual(JSON.parse(text), {
    error: { code: "internal", message: "internal server error (request id req-123)" },
  });
  assert.equal(log.lines.length, 1);
  assert.equal(log.lines[0].fields?.request_id, "req-123");
  assert.equal((log.lines[0].fields?.error as Error).message, secret);
});

Deno.test("an unreachable database is a 503 with Retry-After, not a 500", async () => {
  for (const code of ["ECONNREFUSED", "CONNECTION_CLOSED", "57P01"]) {
    const err = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:55432"), { code });
    const res = await appThrowing(err).request("/boom");
    assert.equal(res.status, 503, code);
    assert.equal(res.headers.get("Retry-After"), "1");
    const text = await res.text();
    assert.doesNotMatch(text, /55432|ECONNREFUSED/);
    assert.equal(JSON.parse(text).error.code, "unavailable");
  }
});

Deno.test("a thrown non-Error is a 500 too", async () => {
  const res = await appThrowing("just a string").request("/boom");
  assert.equal(res.status, 500);
  assert.equal((await res.json()).error.code, "internal");
});
