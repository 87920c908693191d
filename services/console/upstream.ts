/**
 * Calls to the suite's other processes on behalf of the console's caller:
 * every call carries the caller's own bearer token, so each service decides
 * what the caller may see (a user gets only their own orders, admin routes
 * refuse non-admins). Upstream errors keep their status and message; a
 * service that does not answer is a 502 naming it.
 *
 * @module
 */
import { HttpError } from "../../kit/http/errors.ts";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export class Upstream {
  constructor(
    readonly name: string,
    readonly baseUrl: string,
    readonly timeoutMs = 5_000,
  ) {}

  /** JSON from `method path`; throws an HttpError for anything but a 2xx. */
  async call<T = Record<string, unknown>>(
    token: string | undefined,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new HttpError(502, `the ${this.name} service did not answer`, {
        code: "upstream_unavailable",
        cause: err,
      });
    }
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = text === "" ? {} : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      const status =
        (res.status >= 400 && res.status < 600 ? res.status : 502) as ContentfulStatusCode;
      throw new HttpError(status, e?.message ?? `the ${this.name} service answered ${res.status}`, {
        code: e?.code,
      });
    }
    if (json === undefined) {
      throw new HttpError(502, `the ${this.name} service answered something other than JSON`);
    }
    return json as T;
  }

  /** The raw text of a GET (for /metrics), or undefined when it does not answer. */
  async text(path: string): Promise<string | undefined> {
    try {
      const res = await fetch(`${this.baseUrl}${path}`, {
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (!res.ok) {
        await res.body?.cancel();
        return undefined;
      }
      return await res.text();
    } catch {
      return undefined;
    }
  }
}
