/**
 * The issue endpoint's fast token check accepts exactly what the kit's
 * `authenticate` accepts; anything else is left to the kit (and its 401).
 */
import assert from "node:assert/strict";
import { sign } from "hono/jwt";
import { Hono } from "hono";
import { issueToken, onError } from "../../../kit/mod.ts";
import { acceptHs256, cachedAuthenticate } from "./auth_cache.ts";

const SECRET = crypto.randomUUID() + crypto.randomUUID();
const now = () => Math.floor(Date.now() / 1000);

Deno.test("acceptHs256: a good token is accepted with its user; the rest is left to the kit", async () => {
  const good = await issueToken(SECRET, { sub: "u-1", roles: ["admin"] }, 60);
  assert.deepEqual(acceptHs256(`Bearer ${good}`, SECRET, Date.now())?.user, {
    id: "u-1",
    roles: ["admin"],
  });
  const refused = [
    `Bearer ${await issueToken(crypto.randomUUID() + crypto.randomUUID(), { sub: "u" }, 60)}`,
    `Bearer ${await sign({ sub: "u", exp: now() - 1 }, SECRET, "HS256")}`,
    `Bearer ${await sign({ sub: "u" }, SECRET, "HS256")}`,
    `Bearer ${await sign({ exp: now() + 60 }, SECRET, "HS256")}`,
    `Bearer ${await sign({ sub: "u", exp: now() + 60, roles: [1] }, SECRET, "HS256")}`,
    `Bearer ${await sign({ sub: "u", exp: now() + 60, nbf: now() + 30 }, SECRET, "HS256")}`,
    `Bearer ${await sign({ sub: "u", exp: now() + 60 }, SECRET, "HS512")}`,
    `Basic ${good}`,
    good,
    "Bearer a.b.c",
  ];
  for (const header of refused) assert.equal(acceptHs256(header, SECRET, Date.now()), null, header);
});

Deno.test("cachedAuthenticate: accepted tokens pass, refusals are the kit's 401s", async () => {
  const app = new Hono().onError(onError);
  app.get("/me", cachedAuthenticate({ secret: SECRET }), (c) => c.json(c.get("user")));
  const get = (auth?: string) =>
    app.request("/me", { headers: auth ? { Authorization: auth } : {} });
  const token = await issueToken(SECRET, { sub: "u-2" }, 60);
  for (let i = 0; i < 2; i++) {
    const res = await get(`Bearer ${token}`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { id: "u-2", roles: [] });
  }
  const missing = await get();
  assert.equal(missing.status, 401);
  assert.equal((await missing.json()).error.code, "unauthorized");
  const expired = await get(`Bearer ${await sign({ sub: "u", exp: now() - 5 }, SECRET, "HS256")}`);
  assert.equal(expired.status, 401);
  assert.equal((await expired.json()).error.message, "token expired");
});
