/**
 * What the bad-input suite shares: raw requests (any body, any header, no
 * client-side JSON encoding), the tokens an attacker or a broken client
 * sends, and the check every refusal must pass — a 4xx, a JSON body in the
 * kit's error shape (kit/http/errors.ts), nothing internal in the message.
 *
 * @module
 */
import assert from "node:assert/strict";
import { sign } from "hono/jwt";
import { jwtSecret } from "../../kit/env.ts";
import { issueToken } from "../../kit/http/auth.ts";
import type { ManagedProcess } from "../support/process.ts";

/** One bad request and the statuses it may be refused with. */
export interface BadRequest {
  name: string;
  method: string;
  path: string;
  /** A value sent as JSON, or `raw` text sent as it is. */
  body?: unknown;
  raw?: string;
  /** Content-Type when a body is sent (default application/json). */
  contentType?: string;
  /** The bearer token; `null` sends no Authorization header. */
  token?: string | null;
  /** The whole Authorization header, instead of a bearer token. */
  authorization?: string;
  /** More request headers. */
  headers?: Record<string, string>;
  expect: number[];
}

export interface Answer {
  status: number;
  body: unknown;
  contentType: string | null;
}

/** Sends `r` to `service` as it is. */
export async function send(
  service: ManagedProcess,
  r: Omit<BadRequest, "expect" | "name">,
  defaultToken: string,
): Promise<Answer> {
  const headers: Record<string, string> = { ...r.headers };
  const auth = r.authorization ??
    (r.token === null ? undefined : `Bearer ${r.token ?? defaultToken}`);
  if (auth !== undefined) headers.Authorization = auth;
  const body = r.raw ?? (r.body === undefined ? undefined : JSON.stringify(r.body));
  if (body !== undefined) headers["Content-Type"] = r.contentType ?? "application/json";
  const res = await fetch(`http://127.0.0.1:${service.port}${r.path}`, {
    method: r.method,
    headers,
    body,
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch { /* checked by the caller */ }
  return { status: res.status, body: parsed, contentType: res.headers.get("content-type") };
}

/** Asserts a refusal: an expected 4xx, JSON `{ error: { code, message } }`, nothing internal. */
export function assertRefused(r: BadRequest, a: Answer): void {
  const what = `${r.name}: ${r.method} ${r.path} → ${a.status} ${JSON.stringify(a.body)}`;
  assert.ok(r.expect.includes(a.status), `expected ${r.expect.join("/")}; ${what}`);
  assert.ok(a.status >= 400 && a.status < 500, what);
  assert.match(a.contentType ?? "", /^application\/json/, what);
  const error = (a.body as { error?: { code?: unknown; message?: unknown } })?.error;
  assert.equal(typeof error?.code, "string", what);
  assert.equal(typeof error?.message, "string", what);
  // Nothing internal leaks: no stack frames, no SQL, no driver errors.
  assert.doesNotMatch(
    String(error?.message),
    /\bat .*\.ts:\d+|PostgresError|syntax error at or near|stack/i,
    what,
  );
}

/** Every kind of token a service must refuse with a 401, by name. */
export async function badTokens(user: string): Promise<Record<string, string>> {
  const secret = jwtSecret();
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o: unknown) =>
    btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  const valid = await issueToken(secret, { sub: user }, 300);
  const [h, , s] = valid.split(".");
  return {
    expired: await issueToken(secret, { sub: user, roles: ["admin"] }, -60),
    forged: await issueToken(
      "x".repeat(40) + crypto.randomUUID(),
      { sub: user, roles: ["admin"] },
      300,
    ),
    "alg none": `${b64({ alg: "none", typ: "JWT" })}.${
      b64({ sub: user, roles: ["admin"], exp: now + 300 })
    }.`,
    "tampered claims": `${h}.${b64({ sub: user, roles: ["admin"], exp: now + 300 })}.${s}`,
    "no subject": await sign({ exp: now + 300, roles: ["admin"] }, secret, "HS256"),
    "no expiry": await sign({ sub: user, roles: ["admin"] }, secret, "HS256"),
    "roles not a list": await sign({ sub: user, roles: "admin", exp: now + 300 }, secret, "HS256"),
    garbage: "not-a-token",
  };
}

/** Strings that must never reach SQL as SQL (they are parameters, or refused). */
export const SQL_INJECTIONS = [
  "' OR '1'='1",
  "1; DROP TABLE orders.orders; --",
  "x' UNION SELECT password FROM pg_shadow --",
  "\\'; select pg_sleep(5); --",
];

/** A JSON body just over the kit's 64 KiB limit. */
export function oversized(): string {
  return JSON.stringify({ name: "x".repeat(70 * 1024) });
}
