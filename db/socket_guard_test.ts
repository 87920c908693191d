import assert from "node:assert/strict";
import { isPostgresNullSocketWrite } from "./socket_guard.ts";

Deno.test("isPostgresNullSocketWrite() matches only postgres.js' null-socket write", () => {
  const bug = new TypeError("Cannot read properties of null (reading 'write')");
  bug.stack =
    `${bug.message}\n    at Immediate.nextWrite (file:///x/node_modules/.deno/postgres@3.4.9/node_modules/postgres/src/connection.js:255:22)`;
  assert.equal(isPostgresNullSocketWrite(bug), true);

  const elsewhere = new TypeError("Cannot read properties of null (reading 'write')");
  elsewhere.stack = `${elsewhere.message}\n    at ours (file:///x/services/order/http.ts:1:1)`;
  assert.equal(isPostgresNullSocketWrite(elsewhere), false);
  assert.equal(isPostgresNullSocketWrite(new Error("boom")), false);
});
