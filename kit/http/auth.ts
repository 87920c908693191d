/**
 * Who is calling: a bearer JWT (HS256, signed with JWT_SECRET) names the user
 * (`sub`) and their roles (`roles`). {@link authenticate} refuses a request
 * without a valid, unexpired token with a 401; {@link requireRole} refuses a
 * user without the role with a 403. Both answer in the kit's error shape
 * (errors.ts).
 *
 * @module
 */
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { sign, verify } from "hono/jwt";
import { JwtTokenExpired } from "hono/utils/jwt/types";
import { jwtSecret } from "../env.ts";
import { HttpError } from "./errors.ts";
import { tokenFromProtocols } from "./socket_protocol.ts";

/** The authenticated caller, as handlers see it through `c.get("user")`. */
export interface User {
  id: string;
  roles: string[];
}

/**
 * The context variables {@link authenticate} sets: the user, and when their
 * token expires (ms since the epoch; a WebSocket is closed then, socket.ts).
 */
export type AuthEnv = { Variables: { user: User; tokenExpiresAt: number } };

/** The claims the kit reads and writes. */
export interface TokenClaims {
  /** The user id. */
  sub: string;
  /** e.g. `["admin"]`; none means an ordinary customer. */
  roles?: string[];
}

const ALG = "HS256";
const MIN_SECRET_LENGTH = 32;

function checkSecret(secret: string): string {
  if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH) {
    throw new TypeError(
      `the JWT secret must be a string of at least ${MIN_SECRET_LENGTH} characters`,
    );
  }
  return secret;
}

function unauthorized(message: string, tokenProblem: boolean, cause?: unknown): HttpError {
  const challenge = tokenProblem
    ? `Bearer realm="shop", error="invalid_token", error_description="${message}"`
    : `Bearer realm="shop"`;
  return new HttpError(401, message, { headers: { "WWW-Authenticate": challenge }, cause });
}

/** The user a verified token names, or why its claims are unusable. */
function userOf(payload: Record<string, unknown>): User | string {
  if (typeof payload.sub !== "string" || payload.sub === "") return "token has no subject";
  if (typeof payload.exp !== "number") return "token has no expiry";
  const roles = payload.roles ?? [];
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === "string")) {
    return "token roles must be a list of strings";
  }
  return { id: payload.sub, roles };
}

/** Tokens a middleware remembers as verified (the oldest is forgotten first). */
const VERIFIED_TOKENS_MAX = 10_000;

/**
 * Verified tokens and whom they name, until each one's `exp`: a client sends
 * the same token with every request, and checking its HMAC signature (Web
 * Crypto: import the key, verify) cost an order ~10 % of the order service's
 * CPU under saga load (issue #5). Keyed by the whole token, signature
 * included, so only a byte-identical token that verified before is let
 * through; it is dropped the moment it expires.
 */
class VerifiedTokens {
  #byToken = new Map<string, { user: User; exp: number }>();

  get(token: string): { user: User; exp: number } | undefined {
    const hit = this.#byToken.get(token);
    if (!hit) return undefined;
    if (hit.exp <= Date.now() / 1000) {
      this.#byToken.delete(token);
      return undefined;
    }
    return hit;
  }

  set(token: string, user: User, exp: number): void {
    if (this.#byToken.size >= VERIFIED_TOKENS_MAX) {
      this.#byToken.delete(this.#byToken.keys().next().value!);
    }
    this.#byToken.set(token, { user, exp });
  }
}

/**
 * Middleware: verifies the `Authorization: Bearer <token>` header (or, with
 * `socket`, the token a WebSocket offers as a subprotocol:
 * `Sec-WebSocket-Protocol: bearer, <token>`, socket_protocol.ts) and sets
 * `c.get("user")` and `c.get("tokenExpiresAt")`. Missing, malformed, forged,
 * expired or claim-less tokens get a 401. The secret defaults to JWT_SECRET.
 * A token that verified is remembered until it expires (VerifiedTokens).
 * A token is never taken from the URL: URLs are recorded (server spans'
 * `url.full`, proxies' logs).
 *
 * @example
 * ```ts ignore
 * app.use("/orders/*", authenticate());
 * app.get("/orders/:id", (c) => c.json({ owner: c.get("user").id }));
 * ```
 */
export function authenticate(opts: { secret?: string; socket?: boolean } = {}) {
  const secret = checkSecret(opts.secret ?? jwtSecret());
  const verified = new VerifiedTokens();
  return createMiddleware<AuthEnv>(async function authenticate(c, next) {
    // Browsers cannot set headers on a WebSocket, but they send the
    // subprotocols it offers: socket routes take the token from there.
    const socketToken = opts.socket
      ? tokenFromProtocols(c.req.header("Sec-WebSocket-Protocol"))
      : undefined;
    const header = c.req.header("Authorization") ??
      (socketToken ? `Bearer ${socketToken}` : undefined);
    if (!header) throw unauthorized("missing bearer token (Authorization: Bearer <token>)", false);
    const match = /^Bearer +([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*)$/.exec(header);
    if (!match) {
      throw unauthorized("the Authorization header must be 'Bearer <token>'", true);
    }
    const token = match[1];
    let known = verified.get(token);
    if (!known) {
      let payload: Record<string, unknown>;
      try {
        payload = await verify(token, secret, ALG);
      } catch (err) {
        throw err instanceof JwtTokenExpired
          ? unauthorized("token expired", true, err)
          : unauthorized("invalid token", true, err);
      }
      const named = userOf(payload);
      if (typeof named === "string") throw unauthorized(named, true);
      known = { user: named, exp: payload.exp as number };
      verified.set(token, known.user, known.exp);
    }
    c.set("user", known.user);
    c.set("tokenExpiresAt", known.exp * 1000);
    await next();
  });
}

/** The authenticated user; a 401 when no {@link authenticate} ran before. */
export function currentUser(c: Context): User {
  const user: unknown = c.get("user" as never);
  if (!user) throw unauthorized("authentication required", false);
  return user as User;
}

/**
 * Middleware after {@link authenticate}: a 403 unless the user has one of
 * `roles`.
 *
 * @example
 * ```ts ignore
 * app.post("/coupons", authenticate(), requireRole("admin"), createCoupon);
 * ```
 */
export function requireRole(...roles: string[]) {
  if (roles.length === 0) throw new TypeError("requireRole() needs at least one role");
  return createMiddleware<AuthEnv>(async function requireRole(c, next) {
    const user = currentUser(c);
    if (!roles.some((r) => user.roles.includes(r))) {
      throw new HttpError(403, `this needs the ${roles.join(" or ")} role`);
    }
    await next();
  });
}

/**
 * Signs a token for `claims`, valid for `ttlSeconds`: for tests, demos and
 * the dev CLI (token.ts). Production tokens come from an identity provider
 * that shares the secret.
 *
 * @example
 * ```ts
 * import { issueToken } from "./auth.ts";
 *
 * const token = await issueToken("a-secret-of-at-least-32-characters!", { sub: "user-1" }, 60);
 * console.assert(token.split(".").length === 3);
 * ```
 */
export function issueToken(
  secret: string,
  claims: TokenClaims,
  ttlSeconds: number,
): Promise<string> {
  checkSecret(secret);
  if (typeof claims.sub !== "string" || claims.sub === "") {
    throw new TypeError("issueToken(): sub must be a non-empty string");
  }
  if (!Number.isInteger(ttlSeconds)) {
    throw new TypeError("issueToken(): ttlSeconds must be an integer");
  }
  const now = Math.floor(Date.now() / 1000);
  return sign(
    { sub: claims.sub, roles: claims.roles ?? [], iat: now, exp: now + ttlSeconds },
    secret,
    ALG,
  );
}
