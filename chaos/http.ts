/**
 * HTTP calls that survive the chaos: every attempt has a deadline (a process
 * stuck on a dead connection must not stall the load), and an attempt that
 * gets no answer or a 5xx is tried again — on the next target when there are
 * several (two order instances) — until an overall deadline. Callers make
 * retries safe: orders carry an Idempotency-Key, coupons an explicit id.
 *
 * @module
 */
import { sleep } from "../tests/support/dev.ts";
import type { ManagedProcess } from "../tests/support/process.ts";
import type { Client } from "../tests/support/suite.ts";

export interface Answer<T> {
  status: number;
  body: T;
}

/** One attempt; throws when nothing answers within `timeoutMs`. */
export async function callOnce<T>(
  client: Client,
  target: ManagedProcess,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<Answer<T>> {
  const res = await fetch(`http://127.0.0.1:${target.port}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${await client.token()}`,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch { /* not JSON: keep the text */ }
  return { status: res.status, body: parsed as T };
}

/**
 * Tries until an answer below 500 (returned, whatever it is) or `deadlineMs`
 * passes (throws with the last failure).
 */
export async function callRetrying<T>(
  client: Client,
  targets: ManagedProcess[],
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  deadlineMs = 120_000,
): Promise<Answer<T> & { attempts: number }> {
  const until = Date.now() + deadlineMs;
  let last = "";
  for (let attempt = 0;; attempt++) {
    const target = targets[attempt % targets.length];
    try {
      const res = await callOnce<T>(client, target, method, path, body, headers);
      if (res.status < 500) return { ...res, attempts: attempt + 1 };
      last = `${target.name}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`;
    } catch (err) {
      last = `${target.name}: ${(err as Error).message}`;
    }
    if (Date.now() > until) {
      throw new Error(`${method} ${path}: no answer in ${deadlineMs} ms (last: ${last})`);
    }
    await sleep(Math.min(2_000, 250 * 2 ** Math.min(attempt, 3)));
  }
}
