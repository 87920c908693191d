/**
 * authenticate() and requireRole(): who may call, answered with 401s and
 * 403s in the kit's error shape.
 */
import assert from "node:assert/strict";
import { sign } from "hono/jwt";
import { createApp } from "./app.ts";
import { authenticate, currentUser, issueToken, requireRole } from "./auth.ts";

const SECRET = crypto.randomUUID() + crypto.randomUUID();
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function protectedApp() {
  const app = createApp({ service: "test", log: quiet });
  app.use("/me", authenticate({ secret: SECRET }));
  app.get("/me", (c) => c.json(c.get("user")));
  app.get("/admin", authenticate({ secret: SECRET }), requireRole("admin"), (c) => c.text("hi"));
  return app;
}

function get(path: string, authorization?: string) {
  return protectedApp().request(path, {
    headers: authorization ? { Authorization: authorization } : {},
  });
}

async function assertUnauthorized(res: Response, message: string | RegExp): Promise<void> {
  assert.equal(res.status, 401);
  assert.match(res.headers.get("WWW-Authenticate") ?? "", /^Bearer realm="shop"/);
  const body = await res.json();
  assert.equal(body.error.code, "unauthorized");
  if (typeof message === "string") assert.equal(body.error.message, message);
  else assert.match(body.error.message, message);
}

Deno.test("a valid token sets the user from its sub and roles claims", async () => {
  const token = await issueToken(SECRET, { sub: "user-7", roles: ["admin"] }, 60);
  const res = await get("/me", `Bearer ${token}`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { id: "user-7", roles: ["admin"] });
});

Deno.test("a token without roles gives a user with no roles", async () => {
  const token = await issueToken(SECRET, { sub: "user-8" }, 60);
  assert.deepEqual(await (await get("/me", `Bearer ${token}`)).json(), { id: "user-8", roles: [] });
});

Deno.test("a request without a token is a 401", async () => {
  await assertUnauthorized(await get("/me"), /^missing bearer token/);
});

Deno.test("a malformed Authorization header is a 401", async (t) => {
  const token = await issueToken(SECRET, { sub: "user-1" }, 60);
  for (
    const header of [
      token,
      `Basic ${btoa("a:b")}`,
      "Bearer",
      "Bearer not-a-jwt",
      `Bearer ${token} x`,
    ]
  ) {
    await t.step(header.slice(0, 20), async () => {
      await assertUnauthorized(await get("/me", header), /Bearer <token>/);
    });
  }
});

Deno.test("an expired token is a 401 that says so", async () => {
  const token = await issueToken(SECRET, { sub: "user-1" }, -10);
  await assertUnauthorized(await get("/me", `Bearer ${token}`), "token expired");
});

Deno.test("a token that verified is refused once it expires (the verified-token memory honours exp)", async () => {
  const app = protectedApp(); // one middleware instance: one memory of verified tokens
  const call = (token: string) =>
    app.request("/me", { headers: { Authorization: `Bearer ${token}` } });
  const token = await issueToken(SECRET, { sub: "user-9" }, 1);
  assert.equal((await call(token)).status, 200);
  assert.equal((await call(token)).status, 200, "remembered while valid");
  const exp = JSON.parse(atob(token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/"))).exp;
  await new Promise((r) => setTimeout(r, Math.max(0, exp * 1000 - Date.now()) + 50));
  await assertUnauthorized(await call(token), "token expired");
  // A forged token never matches a remembered one: the signature is part of the key.
  const other = await issueToken(SECRET, { sub: "user-9" }, 60);
  assert.equal((await call(other)).status, 200);
  const [h, , sig] = other.split(".");
  const forged = btoa(JSON.stringify({ sub: "user-9", roles: ["admin"], exp: 9e9 }))
    .replaceAll("=", "").replaceAll("+", "-").replaceAll("/", "_");
  await assertUnauthorized(await call(`${h}.${forged}.${sig}`), "invalid token");
});

Deno.test("a token signed with another secret is a 401", async () => {
  const token = await issueToken("x".repeat(40), { sub: "user-1", roles: ["admin"] }, 60);
  await assertUnauthorized(await get("/me", `Bearer ${token}`), "invalid token");
});

Deno.test("a token whose payload was altered after signing is a 401", async () => {
  const token = await issueToken(SECRET, { sub: "user-1" }, 60);
  const [header, , signature] = token.split(".");
  const forged = btoa(JSON.stringify({ sub: "user-1", roles: ["admin"], exp: 9e9 }))
    .replaceAll("=", "").replaceAll("+", "-").replaceAll("/", "_");
  await assertUnauthorized(
    await get("/admin", `Bearer ${header}.${forged}.${signature}`),
    "invalid token",
  );
});

Deno.test("an unsigned token (alg none) is a 401", async () => {
  const b64 = (v: unknown) => btoa(JSON.stringify(v)).replaceAll("=", "");
  const token = `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "user-1", exp: 9e9 })}.`;
  await assertUnauthorized(await get("/me", `Bearer ${token}`), "invalid token");
});

Deno.test("a correctly signed token without sub or exp is a 401", async () => {
  const noSub = await sign({ roles: [], exp: Math.floor(Date.now() / 1000) + 60 }, SECRET, "HS256");
  await assertUnauthorized(await get("/me", `Bearer ${noSub}`), "token has no subject");
  const noExp = await sign({ sub: "user-1" }, SECRET, "HS256");
  await assertUnauthorized(await get("/me", `Bearer ${noExp}`), "token has no expiry");
  const badRoles = await sign({ sub: "u", roles: "admin", exp: 9e9 }, SECRET, "HS256");
  await assertUnauthorized(await get("/me", `Bearer ${badRoles}`), /roles/);
});

Deno.test("requireRole() is a 403 for a user without the role and lets an admin in", async () => {
  const customer = await issueToken(SECRET, { sub: "user-1", roles: ["customer"] }, 60);
  const res = await get("/admin", `Bearer ${customer}`);
  assert.equal(res.status, 403);
  assert.deepEqual(await res.json(), {
    error: { code: "forbidden", message: "this needs the admin role" },
  });
  const admin = await issueToken(SECRET, { sub: "ops-1", roles: ["admin"] }, 60);
  const ok = await get("/admin", `Bearer ${admin}`);
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), "hi");
});

Deno.test("requireRole() without authenticate() before it is a 401, not a pass", async () => {
  const app = createApp({ service: "test", log: quiet });
  app.get("/oops", requireRole("admin"), (c) => c.text("should not run"));
  assert.equal((await app.request("/oops")).status, 401);
});

Deno.test("authenticate() refuses a short secret at start-up", () => {
  assert.throws(() => authenticate({ secret: "short" }), /at least 32 characters/);
});

Deno.test("authenticate() reads JWT_SECRET by default, the secret kit/http/token.ts signs with", async () => {
  const secret = Deno.env.get("JWT_SECRET");
  if (!secret) throw new Error("JWT_SECRET is not set: run tests through ./dev deno test");
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./token.ts", import.meta.url).pathname, "user-5", "admin"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const token = new TextDecoder().decode(out.stdout).trim();
  const app = createApp({ service: "test", log: quiet });
  app.get("/me", authenticate(), requireRole("admin"), (c) => c.json(c.get("user")));
  const res = await app.request("/me", { headers: { Authorization: `Bearer ${token}` } });
  assert.deepEqual(await res.json(), { id: "user-5", roles: ["admin"] });
});

Deno.test("authenticate({ socket }) takes a token offered as a subprotocol only there, and never from the URL", async () => {
  const { Hono } = await import("hono");
  const { onError } = await import("./errors.ts");
  const secret = "a-test-secret-of-at-least-32-characters!";
  const token = await issueToken(secret, { sub: "u-q" }, 60);
  const app = new Hono().onError(onError);
  app.get("/socket", authenticate({ secret, socket: true }), (c) => c.text(currentUser(c).id));
  app.get("/plain", authenticate({ secret }), (c) => c.text(currentUser(c).id));
  const offering = (protocols: string) => ({ headers: { "Sec-WebSocket-Protocol": protocols } });
  assert.equal(await (await app.request("/socket", offering(`bearer, ${token}`))).text(), "u-q");
  assert.equal((await app.request("/plain", offering(`bearer, ${token}`))).status, 401);
  assert.equal((await app.request("/socket", offering(token))).status, 401, "no `bearer` marker");
  assert.equal((await app.request(`/socket?access_token=${token}`)).status, 401);
  const forged = `forged.${token.split(".")[1]}.x`;
  assert.equal((await app.request("/socket", offering(`bearer, ${forged}`))).status, 401);
});
