/**
 * One error shape for every HTTP answer that is not a success:
 * `{ error: { code, message, fields? } }`. Handlers and middleware throw
 * ({@link HttpError}, or Hono's `HTTPException`); {@link errorHandler} turns
 * whatever was thrown into that body. An unexpected error becomes a 500 whose
 * body says nothing about its cause (that goes to the log, with the request
 * id the client also gets).
 *
 * @module
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { isDatabaseUnavailable } from "../db_unavailable.ts";
import { createLogger, type Logger } from "../log.ts";

/** The body of every error response. */
export interface ErrorBody {
  error: {
    /** Stable, machine-readable: `validation_failed`, `not_found`, `coupon_sold_out`, … */
    code: string;
    /** For humans; never a stack trace or an internal detail. */
    message: string;
    /** Per wrong input field (`items.0.quantity`), what is wrong with it (422 only). */
    fields?: Record<string, string>;
  };
}

/** The code each status gets unless the thrower names a more specific one. */
export const DEFAULT_CODES: Readonly<Record<number, string>> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  409: "conflict",
  413: "payload_too_large",
  415: "unsupported_media_type",
  422: "validation_failed",
  429: "too_many_requests",
  500: "internal",
  503: "unavailable",
};

const DEFAULT_MESSAGES: Readonly<Record<number, string>> = {
  400: "bad request",
  401: "authentication required",
  403: "not allowed",
  404: "not found",
  409: "conflict",
  413: "request body too large",
  500: "internal server error",
  503: "service unavailable",
};

/** What an {@link HttpError} may carry besides status and message. */
export interface HttpErrorOptions {
  /** Overrides the status's default code (e.g. `coupon_sold_out` for a 409). */
  code?: string;
  /** Per-field problems (validation). */
  fields?: Record<string, string>;
  /** Response headers, e.g. `WWW-Authenticate` on a 401. */
  headers?: Record<string, string>;
  /** The underlying error; logged, never sent. */
  cause?: unknown;
}

/**
 * An error meant for the client: its status, code and message are sent as
 * they are (so the message must be fit for a client to read).
 *
 * @example
 * ```ts
 * import { HttpError } from "./errors.ts";
 *
 * const err = new HttpError(409, "this coupon is sold out", { code: "coupon_sold_out" });
 * console.assert(err.status === 409 && err.code === "coupon_sold_out");
 * ```
 */
export class HttpError extends HTTPException {
  override name = "HttpError";
  readonly code: string;
  readonly fields?: Record<string, string>;
  readonly headers?: Record<string, string>;

  constructor(status: ContentfulStatusCode, message: string, opts: HttpErrorOptions = {}) {
    super(status, { message, cause: opts.cause });
    this.code = opts.code ?? DEFAULT_CODES[status] ?? `http_${status}`;
    this.fields = opts.fields;
    this.headers = opts.headers;
  }
}

/** A 422 naming each wrong field, as validation at the edge raises it. */
export class ValidationError extends HttpError {
  override name = "ValidationError";

  constructor(fields: Record<string, string>, message?: string) {
    const names = Object.keys(fields);
    super(
      422,
      message ?? `invalid ${names.length === 1 ? "field" : "fields"}: ${names.join(", ")}`,
      {
        fields,
      },
    );
  }
}

/** The JSON error response for a status, code and message. */
export function errorResponse(
  c: Context,
  status: ContentfulStatusCode,
  body: ErrorBody["error"],
  headers?: Record<string, string>,
): Response {
  return c.json<ErrorBody>({ error: body }, status, headers);
}

/**
 * The app's `onError`: every thrown error becomes an {@link ErrorBody}.
 * {@link HttpError}s are sent as they are; Hono's own `HTTPException`s (a
 * malformed JSON body, a body over the limit, …) keep their status with the
 * default code; an unreachable database is a 503 with Retry-After; anything
 * else is logged and answered with an opaque 500.
 */
export function errorHandler(log: Logger): ErrorHandler {
  return (err, c) => {
    if (err instanceof HttpError) {
      if (err.status >= 500) logUnexpected(log, c, err);
      const body: ErrorBody["error"] = { code: err.code, message: err.message };
      if (err.fields) body.fields = err.fields;
      return errorResponse(c, err.status as ContentfulStatusCode, body, err.headers);
    }
    if (err instanceof HTTPException && err.status < 500) {
      const status = err.status as ContentfulStatusCode;
      return errorResponse(c, status, {
        code: DEFAULT_CODES[status] ?? `http_${status}`,
        message: err.message || DEFAULT_MESSAGES[status] || "request refused",
      }, headersOf(err.res));
    }
    if (isDatabaseUnavailable(err)) {
      // Postgres restarting or unreachable: not the request's fault, and
      // worth retrying (the chaos run, chaos/, restarts Postgres under load).
      log.warn("database unavailable", {
        method: c.req.method,
        path: c.req.path,
        request_id: requestIdOf(c),
        error: err,
      });
      return errorResponse(c, 503, {
        code: "unavailable",
        message: "the database is unavailable for a moment; retry",
      }, { "Retry-After": "1" });
    }
    logUnexpected(log, c, err);
    const requestId = requestIdOf(c);
    return errorResponse(c, 500, {
      code: "internal",
      message: requestId
        ? `internal server error (request id ${requestId})`
        : "internal server error",
    });
  };
}

/** `onError` with a logger named `http`; apps made by createApp() log under their service. */
export const onError: ErrorHandler = errorHandler(createLogger("http"));

/** The app's `notFound`: a JSON 404 naming the method and path. */
export const notFound: NotFoundHandler = (c) =>
  errorResponse(c, 404, {
    code: "not_found",
    message: `no route for ${c.req.method} ${c.req.path}`,
  });

function logUnexpected(log: Logger, c: Context, err: Error): void {
  log.error("request failed", {
    method: c.req.method,
    path: c.req.path,
    request_id: requestIdOf(c),
    error: err,
    stack: err.stack,
  });
}

function requestIdOf(c: Context): string | undefined {
  const id: unknown = c.get("requestId" as never);
  return typeof id === "string" ? id : undefined;
}

/** Headers a thrown HTTPException's prepared response wanted (e.g. WWW-Authenticate). */
function headersOf(res: Response | undefined): Record<string, string> | undefined {
  if (!res) return undefined;
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    if (k !== "content-type" && k !== "content-length") out[k] = v;
  });
  return Object.keys(out).length > 0 ? out : undefined;
}
