/**
 * Circuit breakers (SPEC §9.1) on opossum, with the report's policies and one
 * process-wide list of breakers so their states can be exported as metrics
 * and shown on the console.
 *
 * SPEC §9.1 gives Resilience4j-style figures: a failure rate, how long the
 * breaker stays open, a sliding window and a minimum number of calls.
 * opossum's window is one of time, not of calls, so a window of N is read as
 * N one-second buckets (rollingCountTimeout = N s); the minimum number of
 * calls is opossum's `volumeThreshold`. A breaker that is open answers at once
 * with {@link BreakerOpenError}; after `openMs` one trial call goes through
 * (half-open) and its result closes or re-opens it.
 *
 * @module
 */
import CircuitBreaker from "opossum";

/** A breaker's figures, as SPEC §9.1 states them. */
export interface BreakerPolicy {
  /** Failure rate (%) over the window at which the breaker opens. */
  failureRatePercent: number;
  /** How long it stays open before a trial call (ms). */
  openMs: number;
  /** The sliding window, in seconds (one bucket per second). */
  windowSeconds: number;
  /** Calls needed in the window before the rate counts. */
  minimumCalls: number;
  /** A call taking longer than this counts as failed (ms; default: no limit). */
  timeoutMs?: number;
}

/** SPEC §9.1: stock — 50 %, open 30 s, window 10, minimum 5. */
export const STOCK_BREAKER: Readonly<BreakerPolicy> = {
  failureRatePercent: 50,
  openMs: 30_000,
  windowSeconds: 10,
  minimumCalls: 5,
};

/** SPEC §9.1: coupon — 60 %, open 20 s, window 8, minimum 3. */
export const COUPON_BREAKER: Readonly<BreakerPolicy> = {
  failureRatePercent: 60,
  openMs: 20_000,
  windowSeconds: 8,
  minimumCalls: 3,
};

export type BreakerState = "closed" | "open" | "half-open";

/** Thrown by a call refused because the breaker is open. */
export class BreakerOpenError extends Error {
  override name = "BreakerOpenError";
  constructor(readonly breaker: string, readonly retryAfterMs: number) {
    super(`the ${breaker} circuit breaker is open; retry in ${Math.ceil(retryAfterMs / 1000)} s`);
  }
}

/** What a breaker has done since the process started. */
export interface BreakerSnapshot {
  name: string;
  state: BreakerState;
  /** Calls that succeeded / failed / were refused while open, / timed out. */
  successes: number;
  failures: number;
  rejects: number;
  timeouts: number;
  /** Times it opened. */
  opened: number;
  /** When it last changed state (ISO time). */
  since: string;
}

export interface Breaker<A extends unknown[], R> {
  readonly name: string;
  /** Runs the call through the breaker; BreakerOpenError when open. */
  fire(...args: A): Promise<R>;
  state(): BreakerState;
  snapshot(): BreakerSnapshot;
  /** Called on every state change (e.g. to pause or resume a consumer). */
  onStateChange(listener: (state: BreakerState) => void): void;
  /** Stops its timers (tests, shutdown). */
  shutdown(): void;
}

export interface BreakerOptions {
  /**
   * Errors that say nothing about the dependency's health (a request's own
   * fault, e.g. a validation error) return true here and are not counted.
   */
  ignore?: (err: unknown) => boolean;
}

const registry = new Map<string, Breaker<never[], unknown>>();

/** Every breaker of this process, for metrics and the console. */
export function breakerSnapshots(): BreakerSnapshot[] {
  return [...registry.values()].map((b) => b.snapshot());
}

/**
 * Wraps `call` in a breaker named `name` (one name per dependency; a second
 * breaker of the same name replaces the first in the list).
 *
 * @example
 * ```ts
 * import { BreakerOpenError, createBreaker } from "./breaker.ts";
 *
 * const b = createBreaker("demo", (ok: boolean) => ok ? Promise.resolve(1) : Promise.reject(new Error("down")), {
 *   failureRatePercent: 50, openMs: 60_000, windowSeconds: 10, minimumCalls: 2,
 * });
 * await b.fire(false).catch(() => {});
 * await b.fire(false).catch(() => {});
 * const refused = await b.fire(true).catch((e) => e);
 * console.assert(refused instanceof BreakerOpenError && b.state() === "open");
 * b.shutdown();
 * ```
 */
export function createBreaker<A extends unknown[], R>(
  name: string,
  call: (...args: A) => Promise<R>,
  policy: BreakerPolicy,
  opts: BreakerOptions = {},
): Breaker<A, R> {
  const cb = new CircuitBreaker(call, {
    timeout: policy.timeoutMs ?? false,
    errorThresholdPercentage: policy.failureRatePercent,
    resetTimeout: policy.openMs,
    rollingCountTimeout: policy.windowSeconds * 1_000,
    rollingCountBuckets: policy.windowSeconds,
    volumeThreshold: policy.minimumCalls,
    errorFilter: opts.ignore ? (err: unknown) => opts.ignore!(err) : undefined,
  });
  const listeners: ((state: BreakerState) => void)[] = [];
  let state: BreakerState = "closed";
  let since = new Date();
  let openedAt = 0;
  let opened = 0;
  const counts = { successes: 0, failures: 0, rejects: 0, timeouts: 0 };
  const become = (next: BreakerState) => {
    if (next === state) return;
    state = next;
    since = new Date();
    if (next === "open") {
      opened++;
      openedAt = Date.now();
    }
    for (const l of listeners) l(next);
  };
  cb.on("open", () => become("open"));
  cb.on("halfOpen", () => become("half-open"));
  cb.on("close", () => become("closed"));
  cb.on("success", () => counts.successes++);
  cb.on("failure", () => counts.failures++);
  cb.on("reject", () => counts.rejects++);
  cb.on("timeout", () => counts.timeouts++);

  const breaker: Breaker<A, R> = {
    name,
    async fire(...args: A): Promise<R> {
      try {
        return await cb.fire(...args) as R;
      } catch (err) {
        if ((err as { code?: string })?.code === "EOPENBREAKER") {
          throw new BreakerOpenError(name, Math.max(0, openedAt + policy.openMs - Date.now()));
        }
        throw err;
      }
    },
    state: () => state,
    snapshot: () => ({ name, state, ...counts, opened, since: since.toISOString() }),
    onStateChange: (l) => void listeners.push(l),
    shutdown() {
      cb.shutdown();
      if (registry.get(name) === (breaker as unknown)) registry.delete(name);
    },
  };
  registry.set(name, breaker as unknown as Breaker<never[], unknown>);
  return breaker;
}
