/**
 * The SQL of first-come-first-served campaigns (SPEC §5): campaigns, and
 * grants stored as coupon rows with their CouponIssued event in one
 * transaction. The database refuses over-issue on its own: `issued <= total`
 * is a check on the campaign row every grant transaction updates, and
 * `unique (campaign_id, user_id)` on the coupons.
 *
 * @module
 */
import { appendOutbox, type Sql, type Tx } from "../../db/mod.ts";
import {
  type Campaign,
  type GrantOutcome,
  type IssueDecision,
  windowState,
} from "./domain/campaign.ts";
import { couponMessages } from "./events.ts";

type Db = Sql | Tx;

interface CampaignRow {
  id: string;
  name: string;
  total: number;
  issued: number;
  discount: string; // bigint arrives as a string
  starts_at: Date;
  ends_at: Date;
  coupon_expires_at: Date | null;
  created_at: Date;
  sold_out_at: Date | null;
}

function toCampaign(r: CampaignRow): Campaign {
  return {
    id: r.id,
    name: r.name,
    total: r.total,
    issued: r.issued,
    discount: Number(r.discount),
    startsAt: r.starts_at,
    endsAt: r.ends_at,
    couponExpiresAt: r.coupon_expires_at,
    createdAt: r.created_at,
    soldOutAt: r.sold_out_at,
  };
}

export interface NewCampaign {
  id: string;
  name: string;
  total: number;
  discount: number;
  startsAt: Date;
  endsAt: Date;
  couponExpiresAt: Date | null;
}

/** Creates the campaign; null when one with this id exists already. */
export async function insertCampaign(db: Db, c: NewCampaign): Promise<Campaign | null> {
  const rows = await db<CampaignRow[]>`
    insert into campaigns (id, name, total, discount, starts_at, ends_at, coupon_expires_at)
    values (${c.id}, ${c.name}, ${c.total}, ${c.discount}, ${c.startsAt}, ${c.endsAt},
            ${c.couponExpiresAt})
    on conflict (id) do nothing
    returning *`;
  return rows.length === 1 ? toCampaign(rows[0]) : null;
}

export async function findCampaign(db: Db, id: string): Promise<Campaign | null> {
  const rows = await db<CampaignRow[]>`select * from campaigns where id = ${id}`;
  return rows.length === 1 ? toCampaign(rows[0]) : null;
}

/** How many coupons of the campaign the database holds (its counter); null when unknown. */
export async function campaignIssued(db: Db, id: string): Promise<number | null> {
  const rows = await db<{ issued: number }[]>`select issued from campaigns where id = ${id}`;
  return rows.length === 1 ? rows[0].issued : null;
}

/** The newest campaigns first. */
export async function listCampaigns(db: Db, limit: number): Promise<Campaign[]> {
  const rows = await db<CampaignRow[]>`
    select * from campaigns order by created_at desc, id limit ${limit}`;
  return rows.map(toCampaign);
}

/** Campaigns whose grants may still need storing: open, or ended within a day. */
export async function liveCampaigns(db: Db): Promise<Campaign[]> {
  const rows = await db<CampaignRow[]>`
    select * from campaigns where ends_at > now() - interval '1 day'`;
  return rows.map(toCampaign);
}

/**
 * The campaign with the users holding its coupons, read in one statement
 * (one snapshot): what Redis is rebuilt from.
 */
export async function campaignSnapshot(
  db: Db,
  id: string,
): Promise<{ campaign: Campaign; users: string[] } | null> {
  const rows = await db<(CampaignRow & { users: string[] })[]>`
    select c.*, array(select user_id from coupons where campaign_id = c.id) as users
    from campaigns c where c.id = ${id}`;
  return rows.length === 1 ? { campaign: toCampaign(rows[0]), users: rows[0].users } : null;
}

/** One grant decided by Redis: the coupon id it promised to the user. */
export interface Grant {
  couponId: string;
  userId: string;
}

const CHECK_VIOLATION = "23514";

/** True for the database refusing a grant beyond the campaign's total. */
export function isOverTotal(err: unknown): boolean {
  const e = err as { code?: string; constraint_name?: string } | null;
  return e?.code === CHECK_VIOLATION;
}

/**
 * Stores `grants` of one campaign in ONE transaction: a coupon row each
 * (skipped when stored already, or when the user holds another coupon of the
 * campaign), the campaign's `issued` counter, and a CouponIssued event per
 * new coupon. Throws (and stores nothing) when the campaign's total would be
 * exceeded — {@link isOverTotal} — so the caller can store them one by one.
 */
export async function storeGrants(
  sql: Sql,
  campaign: Campaign,
  grants: readonly Grant[],
): Promise<GrantOutcome[]> {
  // One order for every transaction: two workers never wait on each other in a cycle.
  const sorted = [...grants].sort((a, b) => (a.userId < b.userId ? -1 : 1));
  return await sql.begin((tx) => storeGrantsIn(tx, campaign, sorted, grants));
}

async function storeGrantsIn(
  tx: Tx,
  campaign: Campaign,
  sorted: readonly Grant[],
  grants: readonly Grant[] = sorted,
): Promise<GrantOutcome[]> {
  const rows = sorted.map((g) => ({
    id: g.couponId,
    user_id: g.userId,
    discount: campaign.discount,
    expires_at: campaign.couponExpiresAt,
    campaign_id: campaign.id,
  }));
  const inserted = await tx<{ id: string }[]>`
    insert into coupons ${tx(rows, "id", "user_id", "discount", "expires_at", "campaign_id")}
    on conflict do nothing
    returning id`;
  const fresh = new Set(inserted.map((r) => r.id));
  const held = new Map<string, string>();
  if (fresh.size < grants.length) {
    const users = sorted.filter((g) => !fresh.has(g.couponId)).map((g) => g.userId);
    const existing = await tx<{ id: string; user_id: string }[]>`
      select id, user_id from coupons
      where campaign_id = ${campaign.id} and user_id in ${tx(users)}`;
    for (const r of existing) held.set(r.user_id, r.id);
  }
  if (fresh.size > 0) {
    await tx`
      update campaigns set issued = issued + ${fresh.size},
        sold_out_at = case when issued + ${fresh.size} = total then now() else sold_out_at end
      where id = ${campaign.id}`;
    await Promise.all(
      sorted.filter((g) => fresh.has(g.couponId)).map((g) =>
        appendOutbox(
          tx,
          couponMessages.issued({
            couponId: g.couponId,
            campaignId: campaign.id,
            userId: g.userId,
            discount: campaign.discount,
            expiresAt: campaign.couponExpiresAt?.toISOString() ?? null,
          }),
        )
      ),
    );
  }
  return grants.map((g): GrantOutcome => {
    if (fresh.has(g.couponId)) return { kind: "stored" };
    const heldId = held.get(g.userId);
    if (heldId === g.couponId) return { kind: "already_stored" };
    // Not inserted and no row of the user: the id belongs to another coupon.
    return { kind: "duplicate", heldCouponId: heldId ?? g.couponId };
  });
}

/**
 * The benchmark's baseline (issue #6): the whole decision in Postgres, the
 * way the report's old system serialised it — the campaign's counter row
 * locked (`select … for update`) by every request, then the same checks and
 * the same writes as a stored grant, synchronously.
 */
export async function issueWithRowLock(
  sql: Sql,
  campaignId: string,
  userId: string,
): Promise<IssueDecision> {
  return await sql.begin(async (tx): Promise<IssueDecision> => {
    const rows = await tx<(CampaignRow & { now: Date })[]>`
      select *, now() as now from campaigns where id = ${campaignId} for update`;
    if (rows.length === 0) return { result: "unknown_campaign" };
    const c = toCampaign(rows[0]);
    const window = windowState(c, rows[0].now);
    if (window === "not_started") return { result: "not_started", startsAt: c.startsAt };
    if (window === "ended") return { result: "ended" };
    const held = await tx`
      select 1 from coupons where campaign_id = ${campaignId} and user_id = ${userId}`;
    if (held.length > 0) return { result: "already_issued" };
    if (c.issued >= c.total) return { result: "sold_out" };
    const couponId = crypto.randomUUID();
    const [outcome] = await storeGrantsIn(tx, c, [{ couponId, userId }]);
    return outcome.kind === "stored"
      ? { result: "issued", couponId }
      : { result: "already_issued" };
  });
}
