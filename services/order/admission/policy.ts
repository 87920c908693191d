/**
 * Admission control's decision, with no I/O (issue #17): may one more saga
 * start now and still finish within its deadline?
 *
 * By Little's law a saga that starts now waits about `inFlight / rate`: the
 * sagas in flight (PENDING or COMPENSATING, every instance's) divided by how
 * many finish per second (measured over the last window, every instance's).
 * So the system may hold `rate × target` sagas in flight, where `target` is
 * the share of the deadline an accepted saga may take. The limit follows the
 * measured rate — a faster machine, or fewer steps per saga, raises it by
 * itself; nothing is tuned per machine. Before any measurement (an idle
 * system; a burst after a pause) the rate assumed is `minRatePerS`, a floor a
 * machine that runs the suite at all exceeds.
 *
 * Every instance reads the same numbers from the database; each may take
 * only its share of the headroom (`limit − inFlight`, split between the
 * order instances connected) before it reads them again, so a burst spread
 * over any number of instances stays within the one limit.
 *
 * @module
 */

/** What every order instance reads from the database (signal.ts). */
export interface AdmissionSignal {
  /** Orders PENDING or COMPENSATING within their deadline: sagas in flight, every instance's. */
  inFlight: number;
  /** Age of the oldest of them (0 when none). */
  oldestAgeMs: number;
  /** Sagas that ended (COMPLETED or CANCELLED) within the last `windowMs`. */
  completedInWindow: number;
  windowMs: number;
  /** Order instances connected to the database (at least 1: this one). */
  instances: number;
}

export interface AdmissionPolicy {
  /** The saga deadline (ORDER_SAGA_DEADLINE_MS). */
  deadlineMs: number;
  /** An accepted saga should end within this percentage of its deadline. */
  targetPercent: number;
  /** The completion rate assumed while the measured one is lower (cold start). */
  minRatePerS: number;
  /** A user may always have this many sagas in flight… */
  userMinInFlight: number;
  /** …or this percentage of the global limit, whichever is more. */
  userPercent: number;
}

/** The numbers a decision was made from: for the response, metrics and the console. */
export interface AdmissionState {
  inFlight: number;
  oldestAgeMs: number;
  /** Sagas ended per second over the window. */
  completionRatePerS: number;
  /** Most sagas in flight that can still end within the target. */
  limit: number;
  /** Most sagas one user may have in flight. */
  userLimit: number;
  /** What a saga starting now would wait, by Little's law (ms; Infinity: nothing ends). */
  estimatedWaitMs: number;
  /** The share of the deadline accepted sagas should stay within (ms). */
  targetMs: number;
  instances: number;
}

export type Decision =
  | { admit: true; state: AdmissionState }
  | { admit: false; reason: "overloaded"; retryAfterS: number; state: AdmissionState };

/** The limits and estimate the signal gives under the policy. */
export function admissionState(s: AdmissionSignal, p: AdmissionPolicy): AdmissionState {
  const targetMs = p.deadlineMs * p.targetPercent / 100;
  const completionRatePerS = s.windowMs > 0 ? s.completedInWindow * 1000 / s.windowMs : 0;
  const rate = Math.max(completionRatePerS, p.minRatePerS);
  const limit = Math.max(1, Math.floor(rate * targetMs / 1000));
  return {
    inFlight: s.inFlight,
    oldestAgeMs: s.oldestAgeMs,
    completionRatePerS,
    limit,
    userLimit: Math.max(p.userMinInFlight, Math.ceil(limit * p.userPercent / 100)),
    estimatedWaitMs: s.inFlight === 0
      ? 0
      : completionRatePerS > 0
      ? s.inFlight * 1000 / completionRatePerS
      : Infinity,
    targetMs,
    instances: Math.max(1, s.instances),
  };
}

/**
 * Admit one more saga? `admittedHere` is how many this instance admitted
 * since the signal was read (they are not in `inFlight` yet).
 */
export function decide(s: AdmissionSignal, p: AdmissionPolicy, admittedHere: number): Decision {
  const state = admissionState(s, p);
  const headroom = state.limit - state.inFlight;
  // Rounded down: the instances' shares together never exceed the headroom.
  const share = Math.floor(headroom / state.instances);
  if (headroom > 0 && admittedHere < share) return { admit: true, state };
  return { admit: false, reason: "overloaded", retryAfterS: retryAfter(state, p), state };
}

/**
 * Seconds until the backlog is back under the limit at the measured rate:
 * at least 1 (the next reading), at most the deadline.
 */
function retryAfter(state: AdmissionState, p: AdmissionPolicy): number {
  const excess = state.inFlight - state.limit + 1;
  const rate = Math.max(state.completionRatePerS, p.minRatePerS);
  const seconds = excess > 0 ? excess / rate : 1;
  return Math.min(Math.max(1, Math.ceil(seconds)), Math.max(1, Math.ceil(p.deadlineMs / 1000)));
}
