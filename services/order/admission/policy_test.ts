import assert from "node:assert/strict";
import { type AdmissionPolicy, type AdmissionSignal, decide } from "./policy.ts";

const policy: AdmissionPolicy = {
  deadlineMs: 10_000,
  targetPercent: 50,
  minRatePerS: 2,
  userMinInFlight: 5,
  userPercent: 10,
};
const signal = (s: Partial<AdmissionSignal>): AdmissionSignal => ({
  inFlight: 0,
  oldestAgeMs: 0,
  completedInWindow: 0,
  windowMs: 5_000,
  instances: 1,
  ...s,
});

Deno.test("decide() admits while in flight / completion rate stays within the target", () => {
  // 100 sagas/s end; the target is 5 s: up to 500 may be in flight.
  const s = signal({ completedInWindow: 500, inFlight: 499 });
  const d = decide(s, policy, 0);
  assert.equal(d.admit, true);
  assert.equal(d.state.limit, 500);
  assert.equal(d.state.estimatedWaitMs, 4_990);
});

Deno.test("decide() refuses once the backlog could not end within the target, with Retry-After", () => {
  const d = decide(signal({ completedInWindow: 500, inFlight: 700 }), policy, 0);
  assert.equal(d.admit, false);
  // 201 sagas over the limit at 100/s: 3 s.
  assert.equal(!d.admit && d.retryAfterS, 3);
});

Deno.test("decide() follows the measured rate: a machine twice as fast gets twice the limit", () => {
  const slow = decide(signal({ completedInWindow: 250 }), policy, 0).state.limit;
  const fast = decide(signal({ completedInWindow: 500 }), policy, 0).state.limit;
  assert.equal(fast, 2 * slow);
});

Deno.test("decide() assumes the minimum rate before anything was measured (cold start)", () => {
  const d = decide(signal({ inFlight: 9 }), policy, 0);
  assert.equal(d.state.limit, 10); // 2/s × 5 s
  assert.equal(d.admit, true);
  assert.equal(decide(signal({ inFlight: 10 }), policy, 0).admit, false);
});

Deno.test("decide() gives each instance only its share of the headroom", () => {
  // limit 500, 400 in flight: 100 free, 4 instances → 25 each before the next reading.
  const s = signal({ completedInWindow: 500, inFlight: 400, instances: 4 });
  assert.equal(decide(s, policy, 24).admit, true);
  assert.equal(decide(s, policy, 25).admit, false);
});

Deno.test("decide() gives a user the larger of the minimum and their percentage of the limit", () => {
  assert.equal(decide(signal({ completedInWindow: 500 }), policy, 0).state.userLimit, 50);
  assert.equal(decide(signal({}), policy, 0).state.userLimit, 5);
});

Deno.test("decide() never asks to retry later than the deadline, nor sooner than 1 s", () => {
  const stuck = decide(signal({ inFlight: 10_000 }), policy, 0);
  assert.equal(!stuck.admit && stuck.retryAfterS, 10);
  assert.equal(stuck.state.estimatedWaitMs, Infinity);
  const share = decide(signal({ completedInWindow: 500, inFlight: 0, instances: 2 }), policy, 250);
  assert.equal(!share.admit && share.retryAfterS, 1);
});
