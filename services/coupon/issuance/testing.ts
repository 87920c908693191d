/**
 * Helpers of the issuance tests: a campaign open now (for an hour) inserted
 * straight into the database, as an admin's POST would store it.
 *
 * @module
 */
import type { Sql } from "../../../db/mod.ts";
import { insertCampaign } from "../campaign_store.ts";
import type { Campaign } from "../domain/campaign.ts";

/** Inserts campaign `id` of `total` coupons, open from a second ago for an hour. */
export async function insertOpenCampaign(
  sql: Sql,
  c: { id: string; name: string; total: number },
): Promise<Campaign> {
  const created = await insertCampaign(sql, {
    ...c,
    discount: 1000,
    startsAt: new Date(Date.now() - 1_000),
    endsAt: new Date(Date.now() + 3_600_000),
    couponExpiresAt: null,
  });
  if (!created) throw new Error(`campaign ${c.id} exists already`);
  return created;
}
