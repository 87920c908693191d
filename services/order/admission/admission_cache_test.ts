/**
 * The per-instance reading of the admission signal (admission.ts), with a
 * reader of our own: no database, so its timing is the test's to choose.
 */
import assert from "node:assert/strict";
import { Admission, type AdmissionConfig } from "./admission.ts";
import type { AdmissionSignal } from "./policy.ts";

const config: AdmissionConfig = {
  deadlineMs: 10_000,
  targetPercent: 50,
  minRatePerS: 2,
  userMinInFlight: 5,
  userPercent: 10,
  windowMs: 5_000,
  refreshMs: 20,
};
const idle: AdmissionSignal = {
  inFlight: 0,
  oldestAgeMs: 0,
  completedInWindow: 500,
  windowMs: 5_000,
  instances: 1,
};

Deno.test("a stale reading is used while the next one is read: a request never waits for the database", async () => {
  let reads = 0;
  let release = () => {};
  const admission = new Admission(config, () => {
    reads++;
    if (reads === 1) return Promise.resolve(idle);
    // The second reading hangs until the test lets it go.
    return new Promise((resolve) => (release = () => resolve({ ...idle, inFlight: 7 })));
  });
  assert.equal((await admission.admit()).admit, true);
  await new Promise((r) => setTimeout(r, config.refreshMs + 5));
  const started = performance.now();
  const decision = await admission.admit();
  assert.ok(performance.now() - started < 10, "answered from the stale reading");
  assert.equal(decision.state.inFlight, 0);
  assert.equal(reads, 2, "and the next reading was started");
  release();
  await new Promise((r) => setTimeout(r, 0));
  assert.equal((await admission.state()).inFlight, 7);
});

Deno.test("the first decision waits for a reading: there is nothing to decide from before", async () => {
  const admission = new Admission(config, async () => {
    await new Promise((r) => setTimeout(r, 30));
    return { ...idle, inFlight: 3 };
  });
  assert.equal((await admission.admit()).state.inFlight, 3);
});
