import assert from "node:assert/strict";
import { chooseMode, type ModeSettings, userBucket } from "./mode.ts";

const simple = { userId: "u1", lines: 2, usesCoupon: false, usesPoints: false };
const complex = { userId: "u1", lines: 2, usesCoupon: true, usesPoints: false };
const all: ModeSettings = { strategy: "hybrid", parallelEnabled: true, parallelPercentage: 100 };

Deno.test("hybrid: simple orders run in parallel, orders with a coupon, points or > 3 lines sequentially", () => {
  assert.equal(chooseMode(simple, all), "parallel");
  assert.equal(chooseMode(complex, all), "sequential");
  assert.equal(chooseMode({ ...simple, lines: 4 }, all), "sequential");
  assert.equal(chooseMode({ ...simple, usesPoints: true }, all), "sequential");
});

Deno.test("the rollout switch: disabled or outside the percentage means sequential", () => {
  assert.equal(chooseMode(simple, { ...all, parallelEnabled: false }), "sequential");
  assert.equal(chooseMode(simple, { ...all, parallelPercentage: 0 }), "sequential");
  const users = Array.from({ length: 2_000 }, (_, i) => `user-${i}`);
  const parallel = users.filter((u) =>
    chooseMode({ ...simple, userId: u }, { ...all, parallelPercentage: 30 }) === "parallel"
  );
  // hash(userId) % 100 < 30: about 30 % of users, always the same ones.
  assert.ok(parallel.length > 500 && parallel.length < 700, `${parallel.length} of 2000`);
  assert.equal(userBucket("user-7"), userBucket("user-7"));
  assert.equal(chooseMode(complex, { ...all, strategy: "parallel" }), "parallel");
  assert.equal(chooseMode(simple, { ...all, strategy: "sequential" }), "sequential");
});
