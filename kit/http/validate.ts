/**
 * Validation at the edge (STYLE: hono, validation with zod): a route declares
 * the shape of its body, query or path parameters, and its handler sees only
 * input of that shape (`c.req.valid("json")`). Anything else is answered
 * before the handler runs: a 422 naming each wrong field, e.g.
 * `{ error: { code: "validation_failed", message: "invalid field: items.0.quantity",
 * fields: { "items.0.quantity": "must be greater than 0" } } }`; a body that
 * is not JSON at all is a 400, one sent with another media type a 415.
 *
 * @module
 */
import { zValidator } from "@hono/zod-validator";
import type { Context, MiddlewareHandler, ValidationTargets } from "hono";
import { z } from "zod";
import { HttpError, ValidationError } from "./errors.ts";

/** How a value at the top of each target is named when it is wrong as a whole. */
const ROOT_NAMES: Record<keyof ValidationTargets, string> = {
  json: "body",
  form: "body",
  query: "query",
  param: "path",
  header: "headers",
  cookie: "cookies",
};

const KINDS: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "a boolean",
  object: "an object",
  array: "a list",
  bigint: "an integer",
  date: "a date",
};

type Issue = z.core.$ZodRawIssue;

/**
 * Messages for zod's built-in checks, worded for an API client. A message
 * the schema sets itself (`z.number().positive("must be a positive integer")`)
 * takes precedence over these.
 */
export function issueMessage(issue: Issue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "is required";
      return `must be ${KINDS[issue.expected] ?? issue.expected}`;
    case "too_small": {
      const n = issue.minimum;
      if (issue.origin === "string") return `must have at least ${n} character${n == 1 ? "" : "s"}`;
      if (issue.origin === "array" || issue.origin === "set") {
        return `must have at least ${n} item${n == 1 ? "" : "s"}`;
      }
      return issue.inclusive ? `must be at least ${n}` : `must be greater than ${n}`;
    }
    case "too_big": {
      const n = issue.maximum;
      if (issue.origin === "string") return `must have at most ${n} character${n == 1 ? "" : "s"}`;
      if (issue.origin === "array" || issue.origin === "set") {
        return `must have at most ${n} item${n == 1 ? "" : "s"}`;
      }
      return issue.inclusive ? `must be at most ${n}` : `must be less than ${n}`;
    }
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_format":
      return `must be a valid ${issue.format}`;
    default:
      return undefined; // zod's own message
  }
}

/** Each wrong field (dotted path) with the first problem found in it. */
export function fieldsOf(
  error: { issues: readonly z.core.$ZodIssue[] },
  rootName = "body",
): Record<string, string> {
  const fields: Record<string, string> = {};
  const put = (path: PropertyKey[], message: string) => {
    const name = path.length === 0 ? rootName : path.map(String).join(".");
    fields[name] ??= message;
  };
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) put([...issue.path, key], "is not allowed");
    } else {
      put(issue.path, issue.message);
    }
  }
  return fields;
}

/** A string Postgres cannot store as the client sent it, and why. */
export function unstorable(text: string): string | undefined {
  // U+0000: refused in text and jsonb (SQLSTATE 22021, 22P05).
  if (text.includes("\u0000")) return "must not contain NUL characters";
  // A lone UTF-16 surrogate (JSON may spell one, `"\ud800"`) is no Unicode
  // text: refused in jsonb (22P02), silently U+FFFD in text.
  if (!text.isWellFormed()) return "must be well-formed Unicode (no lone UTF-16 surrogates)";
  return undefined;
}

/**
 * Each string in `value` (input that passed its schema, so of bounded depth),
 * and each key, that Postgres cannot store, with why.
 */
export function unstorablePaths(
  value: unknown,
  path: PropertyKey[] = [],
): { path: PropertyKey[]; message: string }[] {
  if (typeof value === "string") {
    const message = unstorable(value);
    return message ? [{ path, message }] : [];
  }
  if (typeof value !== "object" || value === null) return [];
  const entries = Array.isArray(value) ? [...value.entries()] : Object.entries(value);
  return entries.flatMap(([k, v]) => {
    const keyMessage = typeof k === "string" ? unstorable(k) : undefined;
    const inKey = keyMessage ? [{ path: [...path, k], message: keyMessage }] : [];
    return [...inKey, ...unstorablePaths(v, [...path, k])];
  });
}

/** A 415 unless a request that has a body sends it as JSON. */
function requireJsonBody(c: Context): void {
  const type = c.req.header("Content-Type");
  // A bodiless POST over HTTP still has a (zero-length) body stream.
  const hasBody = c.req.raw.body !== null && c.req.header("Content-Length") !== "0";
  if (!hasBody && !type) return; // validated as an empty object: the schema decides
  if (!type || !/^application\/([\w.-]+\+)?json(;|$)/i.test(type.trim())) {
    throw new HttpError(415, "send the request body as application/json");
  }
}

/**
 * Middleware validating one part of the request against a zod schema;
 * handlers read the result with `c.req.valid(target)`.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { Hono } from "hono";
 * import { validate } from "./validate.ts";
 * import { onError } from "./errors.ts";
 *
 * const Order = z.object({
 *   items: z.array(z.object({
 *     productId: z.string().min(1),
 *     quantity: z.number().int().positive("must be a positive integer"),
 *   })).min(1),
 * });
 * const app = new Hono().onError(onError)
 *   .post("/orders", validate("json", Order), (c) => c.json(c.req.valid("json").items, 202));
 *
 * const res = await app.request("/orders", {
 *   method: "POST",
 *   headers: { "Content-Type": "application/json" },
 *   body: JSON.stringify({ items: [{ productId: "p-1", quantity: 0 }] }),
 * });
 * console.assert(res.status === 422);
 * ```
 */
export function validate<Target extends keyof ValidationTargets, T extends z.ZodType>(
  target: Target,
  schema: T,
) {
  const rootName = ROOT_NAMES[target];
  const inner = zValidator(
    target,
    schema,
    (result) => {
      if (!result.success) throw new ValidationError(fieldsOf(result.error, rootName));
    },
    {
      validationFunction: async (s, value) => {
        const result = await (s as z.ZodType).safeParseAsync(value, { error: issueMessage });
        if (!result.success) return result as never;
        // Strings Postgres cannot store (NUL, lone surrogates), in any route's
        // input: refused here, as the client's fault, not as a 500 from the database.
        const bad = unstorablePaths(result.data);
        if (bad.length === 0) return result as never;
        return {
          success: false,
          error: { issues: bad.map((b) => ({ code: "custom", ...b })) },
        } as never;
      },
    },
  );
  if (target !== "json") return inner;
  const checked: MiddlewareHandler = (c, next) => {
    requireJsonBody(c);
    return inner(c as never, next);
  };
  return checked as typeof inner;
}
