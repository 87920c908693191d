import assert from "node:assert/strict";
import { BreakerOpenError, breakerSnapshots, createBreaker } from "./breaker.ts";

const policy = { failureRatePercent: 50, openMs: 200, windowSeconds: 10, minimumCalls: 3 };

Deno.test("createBreaker() opens at the failure rate, refuses at once, and closes after a good trial", async () => {
  let healthy = false;
  const changes: string[] = [];
  const b = createBreaker(
    "test-dep",
    () => healthy ? Promise.resolve("ok") : Promise.reject(new Error("down")),
    policy,
  );
  b.onStateChange((s) => changes.push(s));
  try {
    for (let i = 0; i < 3; i++) await assert.rejects(b.fire(), /down/);
    assert.equal(b.state(), "open");
    const refused = await b.fire().catch((e) => e);
    assert.ok(refused instanceof BreakerOpenError, String(refused));
    assert.equal(refused.breaker, "test-dep");
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(b.state(), "half-open");
    healthy = true;
    assert.equal(await b.fire(), "ok");
    assert.equal(b.state(), "closed");
    assert.deepEqual(changes, ["open", "half-open", "closed"]);
    const snap = breakerSnapshots().find((s) => s.name === "test-dep");
    assert.equal(snap?.opened, 1);
    assert.equal(snap?.failures, 3);
    assert.equal(snap?.rejects, 1);
  } finally {
    b.shutdown();
  }
});

Deno.test("createBreaker() does not count errors its policy ignores", async () => {
  const b = createBreaker(
    "test-ignore",
    () => Promise.reject(new TypeError("bad request")),
    policy,
    { ignore: (e) => e instanceof TypeError },
  );
  try {
    for (let i = 0; i < 5; i++) await assert.rejects(b.fire(), TypeError);
    assert.equal(b.state(), "closed");
  } finally {
    b.shutdown();
  }
});
