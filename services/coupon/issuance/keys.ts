/**
 * The Redis keys of a campaign (SPEC §5.2.1). All keys of one campaign share
 * the hash tag `{campaign:<id>}`, so one Lua script may touch all of them on
 * Redis Cluster too (they hash to the same slot).
 *
 * @module
 */

export interface CampaignKeys {
  /** Hash: total, starts, ends (epoch ms), issued (grants decided). Missing: rebuild. */
  state: string;
  /** Set: the users granted a coupon (expires 24 h after the last issue, SPEC §5). */
  users: string;
  /** Stream: one entry per grant (user, coupon id), drained into Postgres by the worker. */
  grants: string;
  /** String: held while one instance rebuilds the keys from the database. */
  rebuildLock: string;
}

export function campaignKeys(campaignId: string): CampaignKeys {
  const tag = `{campaign:${campaignId}}`;
  return {
    state: `${tag}:state`,
    users: `${tag}:users`,
    grants: `${tag}:grants`,
    rebuildLock: `${tag}:rebuild`,
  };
}

/** The consumer group of every grant stream. */
export const GRANT_GROUP = "coupon-grants";

/** Pub/sub channel on which stored (or refused) grants are announced to WebSockets. */
export const NOTIFY_CHANNEL = "coupons:notify";

/** SPEC §5: the user set expires 24 h after issuance. */
export const USERS_TTL_SECONDS = 24 * 60 * 60;
