/**
 * The database's side of first-come-first-served issuance (SPEC §5) against
 * the real Postgres: grants stored with their CouponIssued events in one
 * transaction, redeliveries stored once, a second coupon of a campaign for
 * one user and anything beyond the total refused by the database itself; and
 * the benchmark's row-lock baseline deciding the same way.
 */
import assert from "node:assert/strict";
import { removeCampaigns, stored } from "../../tests/coupon/support.ts";
import {
  type Grant,
  insertCampaign,
  isOverTotal,
  issueWithRowLock,
  storeGrants,
} from "./campaign_store.ts";
import type { Campaign } from "./domain/campaign.ts";
import { type CouponFixture, couponFixture } from "./testing.ts";

async function campaign(
  f: CouponFixture,
  ids: string[],
  over: Partial<{ total: number; startsAt: Date; endsAt: Date }> = {},
): Promise<Campaign> {
  const id = f.couponId();
  ids.push(id);
  const c = await insertCampaign(f.sql, {
    id,
    name: "store test",
    total: over.total ?? 3,
    discount: 1500,
    startsAt: over.startsAt ?? new Date(Date.now() - 1_000),
    endsAt: over.endsAt ?? new Date(Date.now() + 3_600_000),
    couponExpiresAt: null,
  });
  assert.ok(c);
  return c;
}

const grant = (userId: string): Grant => ({ couponId: crypto.randomUUID(), userId });

Deno.test("storeGrants: rows, counter and events together; a redelivery is stored once", async () => {
  await using f = await couponFixture();
  const ids: string[] = [];
  try {
    const c = await campaign(f, ids);
    const [a, b] = [grant(f.userId()), grant(f.userId())];
    assert.deepEqual(await storeGrants(f.sql, c, [a, b]), [{ kind: "stored" }, {
      kind: "stored",
    }]);
    assert.deepEqual(await storeGrants(f.sql, c, [b, a]), [{ kind: "already_stored" }, {
      kind: "already_stored",
    }]);
    assert.deepEqual(await stored(c.id), { issued: 2, rows: 2, users: 2, events: 2 });
    // The same user again, under another coupon id: refused, the held coupon named.
    const again = { couponId: crypto.randomUUID(), userId: a.userId };
    assert.deepEqual(await storeGrants(f.sql, c, [again]), [{
      kind: "duplicate",
      heldCouponId: a.couponId,
    }]);
    // Twice in one batch: the first is stored, the second refused.
    const d = f.userId();
    const [d1, d2] = [grant(d), grant(d)];
    const out = await storeGrants(f.sql, c, [d1, d2]);
    assert.deepEqual(out, [{ kind: "stored" }, { kind: "duplicate", heldCouponId: d1.couponId }]);
    assert.deepEqual(await stored(c.id), { issued: 3, rows: 3, users: 3, events: 3 });
  } finally {
    await removeCampaigns(ids);
  }
});

Deno.test("storeGrants: beyond the total the database refuses the whole batch", async () => {
  await using f = await couponFixture();
  const ids: string[] = [];
  try {
    const c = await campaign(f, ids, { total: 2 });
    const err = await storeGrants(f.sql, c, [
      grant(f.userId()),
      grant(f.userId()),
      grant(f.userId()),
    ])
      .then(() => null, (e) => e);
    assert.ok(isOverTotal(err), String(err));
    assert.deepEqual(await stored(c.id), { issued: 0, rows: 0, users: 0, events: 0 });
    await storeGrants(f.sql, c, [grant(f.userId()), grant(f.userId())]);
    assert.ok(isOverTotal(await storeGrants(f.sql, c, [grant(f.userId())]).catch((e) => e)));
    assert.deepEqual(await stored(c.id), { issued: 2, rows: 2, users: 2, events: 2 });
  } finally {
    await removeCampaigns(ids);
  }
});

Deno.test("issueWithRowLock (the baseline): the same decisions, stored at once", async () => {
  await using f = await couponFixture();
  const ids: string[] = [];
  try {
    const c = await campaign(f, ids, { total: 2 });
    const [a, b, z] = [f.userId(), f.userId(), f.userId()];
    const results = await Promise.all([a, a, b, z].map((u) => issueWithRowLock(f.sql, c.id, u)));
    const counts = results.map((r) => r.result).sort();
    assert.deepEqual(counts, ["already_issued", "issued", "issued", "sold_out"]);
    assert.deepEqual(await stored(c.id), { issued: 2, rows: 2, users: 2, events: 2 });
    assert.equal((await issueWithRowLock(f.sql, f.couponId(), a)).result, "unknown_campaign");
    const later = await campaign(f, ids, {
      startsAt: new Date(Date.now() + 60_000),
      endsAt: new Date(Date.now() + 120_000),
    });
    assert.equal((await issueWithRowLock(f.sql, later.id, a)).result, "not_started");
    const past = await campaign(f, ids, {
      startsAt: new Date(Date.now() - 120_000),
      endsAt: new Date(Date.now() - 60_000),
    });
    assert.equal((await issueWithRowLock(f.sql, past.id, a)).result, "ended");
  } finally {
    await removeCampaigns(ids);
  }
});
