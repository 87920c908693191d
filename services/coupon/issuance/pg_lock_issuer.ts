/**
 * The benchmark's baseline issuer (`COUPON_ISSUER=pg-lock`): every request
 * decided in Postgres under the campaign row's lock (campaign_store.ts
 * `issueWithRowLock`), behind the same HTTP API as the Redis issuer.
 *
 * @module
 */
import type { Sql } from "../../../db/mod.ts";
import { findCampaign, issueWithRowLock } from "../campaign_store.ts";
import type { IssueDecision } from "../domain/campaign.ts";
import type { Issuer } from "./issuer.ts";

export class PgLockIssuer implements Issuer {
  constructor(readonly sql: Sql) {}

  issue(campaignId: string, userId: string): Promise<IssueDecision> {
    return issueWithRowLock(this.sql, campaignId, userId);
  }

  campaignCreated(): Promise<void> {
    return Promise.resolve();
  }

  async granted(campaignId: string): Promise<number | null> {
    return (await findCampaign(this.sql, campaignId))?.issued ?? null;
  }
}
