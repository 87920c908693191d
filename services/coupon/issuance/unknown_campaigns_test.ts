/**
 * The remembered misses are bounded in age and in number, whatever ids come.
 */
import assert from "node:assert/strict";
import { UnknownCampaigns } from "./unknown_campaigns.ts";

Deno.test("unknown campaigns: a miss is remembered for its ttl, then forgotten", () => {
  const u = new UnknownCampaigns({ ttlMs: 1_000, maxEntries: 10 });
  u.remember("a", 0);
  assert.equal(u.has("a", 999), true);
  assert.equal(u.has("a", 1_000), false);
  assert.equal(u.size, 0, "an expired miss leaves no entry behind");
});

Deno.test("unknown campaigns: never more than maxEntries, the oldest go first", () => {
  const u = new UnknownCampaigns({ ttlMs: 60_000, maxEntries: 100 });
  for (let i = 0; i < 100_000; i++) u.remember(`id-${i}`, i);
  assert.equal(u.size, 100);
  assert.equal(u.has("id-99899", 100_000), false);
  assert.equal(u.has("id-99900", 100_000), true);
});

Deno.test("unknown campaigns: expired entries go even when nothing new comes", () => {
  const u = new UnknownCampaigns({ ttlMs: 10, maxEntries: 1_000 });
  for (let i = 0; i < 500; i++) u.remember(`id-${i}`, 0);
  assert.equal(u.has("other", 10), false);
  assert.equal(u.size, 0);
});

Deno.test("unknown campaigns: a remembered id seen again lives a full ttl from then", () => {
  const u = new UnknownCampaigns({ ttlMs: 100, maxEntries: 10 });
  u.remember("a", 0);
  u.remember("b", 50);
  u.remember("a", 60); // moves behind b: the order of expiry stays the order of the Map
  assert.equal(u.has("b", 151), false);
  assert.equal(u.has("a", 151), true);
  assert.equal(u.size, 1);
});

Deno.test("unknown campaigns: a created campaign is forgotten at once", () => {
  const u = new UnknownCampaigns({ ttlMs: 1_000, maxEntries: 10 });
  u.remember("a", 0);
  u.forget("a");
  assert.equal(u.has("a", 1), false);
});
