/**
 * The answers of a refused `POST /orders`: 503 when the system cannot end
 * another saga within its deadline, 429 when the user already has their
 * share in flight. Both carry `Retry-After` and say why in the suite's error
 * shape (`{ error: { code, message } }`), with the numbers behind it.
 *
 * @module
 */
import type { Context } from "hono";
import type { AdmissionState } from "./policy.ts";

/** The numbers behind a refusal, as the response shows them. */
function numbers(state: AdmissionState) {
  return {
    inFlight: state.inFlight,
    limit: state.limit,
    userLimit: state.userLimit,
    completionRatePerS: Math.round(state.completionRatePerS * 10) / 10,
    estimatedWaitMs: Number.isFinite(state.estimatedWaitMs)
      ? Math.round(state.estimatedWaitMs)
      : null,
    targetMs: state.targetMs,
  };
}

/** 503: more sagas in flight than can end within the target. */
export function overloadedResponse(c: Context, state: AdmissionState, retryAfterS: number) {
  const message = `too many orders in progress to finish another within its deadline: ` +
    `${state.inFlight} in flight, at most ${state.limit} ` +
    `(${numbers(state).completionRatePerS}/s finishing); retry after ${retryAfterS} s`;
  return c.json(
    { error: { code: "overloaded", message }, retryAfterSeconds: retryAfterS, ...numbers(state) },
    503,
    { "Retry-After": String(retryAfterS) },
  );
}

/** 429: the user has as many sagas in flight as one user may. */
export function userLimitResponse(c: Context, state: AdmissionState, userInFlight: number) {
  // Their oldest order should end within the target: then one place is free.
  const waitMs = Math.min(state.estimatedWaitMs, state.targetMs);
  const retryAfterS = Math.max(1, Math.ceil(waitMs / 1000));
  const message = `you have ${userInFlight} orders in progress, at most ${state.userLimit} ` +
    `at a time; retry after ${retryAfterS} s`;
  return c.json(
    {
      error: { code: "too_many_orders_in_progress", message },
      retryAfterSeconds: retryAfterS,
      userInFlight,
      ...numbers(state),
    },
    429,
    { "Retry-After": String(retryAfterS) },
  );
}
