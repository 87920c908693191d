/**
 * Stores Redis's grants in Postgres (SPEC §5: "the coupon is stored in the
 * database asynchronously"; §5.2.2: "if storing fails, the Redis counter is
 * compensated").
 *
 * Each campaign's grants are a Redis stream read through one consumer group
 * by every instance of the service (XREADGROUP): a batch becomes coupon rows
 * and CouponIssued events in ONE transaction (campaign_store.ts
 * `storeGrants`), and only then is it acknowledged (XACK). A grant read by an
 * instance that dies before its XACK stays pending and is taken over by a
 * live one (XAUTOCLAIM after `claimIdleMs`), so every grant ends as exactly
 * one row: a redelivered grant finds its row and is only acknowledged.
 *
 * Refusals by the database are compensated in the same Lua call that
 * acknowledges the grant (scripts.ts), so never twice: a user who holds
 * another coupon of the campaign gives the count back; a campaign at its
 * total in the database marks Redis sold out and drops the user. After each
 * batch Redis's count is raised to the database's if it fell below it (Redis
 * lost grants that were stored already).
 *
 * @module
 */
import type { Sql } from "../../../db/mod.ts";
import type { Logger } from "../../../kit/log.ts";
import {
  campaignIssued,
  type Grant,
  isOverTotal,
  liveCampaigns,
  storeGrants,
} from "../campaign_store.ts";
import type { Campaign, GrantOutcome } from "../domain/campaign.ts";
import { campaignKeys, GRANT_GROUP, NOTIFY_CHANNEL } from "./keys.ts";
import type { CouponNotice } from "./notifier.ts";
import type { ScriptedRedis } from "./scripts.ts";

export interface GrantWorkerOptions {
  /** A connection of its own (it is busy with the streams). */
  redis: ScriptedRedis;
  sql: Sql;
  log: Logger;
  /** This instance's consumer name in the group. */
  consumer: string;
  /** Grants per transaction. */
  batch: number;
  /** A grant pending this long on another consumer is taken over (ms). */
  claimIdleMs: number;
  /** How long an idle worker waits before looking again (ms; a grant here wakes it). */
  pollMs?: number;
}

type StreamEntry = [id: string, fields: string[] | null];
interface Pending extends Grant {
  entryId: string;
}

const REFRESH_MS = 2_000;

export class GrantWorker {
  #o: GrantWorkerOptions;
  #campaigns = new Map<string, Campaign>();
  #refreshedAt = 0;
  #claimedAt = 0;
  #retryOwn = new Set<string>();
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #unknownSeen = false;
  readonly counts = { stored: 0, alreadyStored: 0, duplicates: 0, soldOut: 0, failures: 0 };

  constructor(o: GrantWorkerOptions) {
    this.#o = o;
  }

  start(): void {
    this.#running = true;
    this.#loop = this.#run();
  }

  /** A grant was just decided here: look now (and learn a campaign created elsewhere). */
  wake(campaignId?: string): void {
    if (campaignId !== undefined && !this.#campaigns.has(campaignId)) this.#unknownSeen = true;
    this.#wake?.();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      let worked = false;
      try {
        await this.#refresh();
        if (Date.now() - this.#claimedAt >= this.#o.claimIdleMs / 2) {
          this.#claimedAt = Date.now();
          for (const c of this.#campaigns.values()) worked = (await this.#claim(c)) || worked;
        }
        for (const c of this.#campaigns.values()) worked = (await this.#drain(c)) || worked;
      } catch (err) {
        this.counts.failures++;
        this.#o.log.warn("grant worker: a round failed; retrying", { error: err });
        await this.#sleep(500);
        continue;
      }
      if (!worked) await this.#sleep(this.#o.pollMs ?? 100);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.#wake = () => {
        this.#wake = null;
        done();
      };
    });
  }

  async #refresh(): Promise<void> {
    if (!this.#unknownSeen && Date.now() - this.#refreshedAt < REFRESH_MS) return;
    this.#unknownSeen = false;
    this.#refreshedAt = Date.now();
    const live = await liveCampaigns(this.#o.sql);
    this.#campaigns = new Map(live.map((c) => [c.id, c]));
  }

  /** Reads new grants (or, after a failure, this consumer's unacknowledged ones) and stores them. */
  async #drain(c: Campaign): Promise<boolean> {
    const { grants } = campaignKeys(c.id);
    const own = this.#retryOwn.has(c.id);
    const reply = await this.#group(c.id, () =>
      this.#o.redis.xreadgroup(
        "GROUP",
        GRANT_GROUP,
        this.#o.consumer,
        "COUNT",
        this.#o.batch,
        "STREAMS",
        grants,
        own ? "0" : ">",
      )) as [string, StreamEntry[]][] | null;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) {
      if (own) this.#retryOwn.delete(c.id);
      return false;
    }
    await this.#store(c, entries);
    return true;
  }

  /** Takes over grants left pending by a consumer that died (SIGKILL mid-burst). */
  async #claim(c: Campaign): Promise<boolean> {
    const { grants } = campaignKeys(c.id);
    let start = "0-0";
    let worked = false;
    do {
      const reply = await this.#group(c.id, () =>
        this.#o.redis.xautoclaim(
          grants,
          GRANT_GROUP,
          this.#o.consumer,
          this.#o.claimIdleMs,
          start,
          "COUNT",
          this.#o.batch,
        )) as [string, StreamEntry[], string[]?];
      const entries = reply[1] ?? [];
      if (entries.length > 0) {
        this.#o.log.info("took over pending grants", { campaign: c.id, count: entries.length });
        await this.#store(c, entries);
        worked = true;
      }
      start = reply[0];
    } while (start !== "0-0" && this.#running);
    return worked;
  }

  /** Runs a stream command, creating the group (and stream) when Redis does not have it. */
  async #group<T>(campaignId: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (!String((err as Error)?.message).startsWith("NOGROUP")) throw err;
      await this.#o.redis.xgroup(
        "CREATE",
        campaignKeys(campaignId).grants,
        GRANT_GROUP,
        "0",
        "MKSTREAM",
      )
        .catch((e) => {
          if (!String((e as Error)?.message).startsWith("BUSYGROUP")) throw e;
        });
      return await op();
    }
  }

  async #store(c: Campaign, entries: StreamEntry[]): Promise<void> {
    const k = campaignKeys(c.id);
    const grants: Pending[] = [];
    const broken: string[] = [];
    for (const [entryId, fields] of entries) {
      const f = fieldsOf(fields);
      if (f.user && f.coupon) grants.push({ entryId, userId: f.user, couponId: f.coupon });
      else broken.push(entryId); // deleted from the stream meanwhile
    }
    if (broken.length > 0) await this.#o.redis.xack(k.grants, GRANT_GROUP, ...broken);
    if (grants.length === 0) return;

    let outcomes: GrantOutcome[];
    try {
      outcomes = await this.#write(c, grants);
    } catch (err) {
      // Left pending: read again from this consumer's list (or taken over).
      this.#retryOwn.add(c.id);
      throw err;
    }
    // A lower bound of the right Redis count (see scripts.ts couponRaise).
    const storedCount = await campaignIssued(this.#o.sql, c.id) ?? 0;
    const notices: CouponNotice[] = [];
    const acks: string[] = [];
    const compensations: Promise<unknown>[] = [];
    grants.forEach((g, i) => {
      const o = outcomes[i];
      const base = { campaignId: c.id, userId: g.userId };
      switch (o.kind) {
        case "stored":
          this.counts.stored++;
          acks.push(g.entryId);
          notices.push({ type: "CouponStored", ...base, couponId: g.couponId });
          break;
        case "already_stored":
          // A redelivery: the first attempt may have died before its notice.
          this.counts.alreadyStored++;
          acks.push(g.entryId);
          notices.push({ type: "CouponStored", ...base, couponId: g.couponId });
          break;
        case "duplicate":
          this.counts.duplicates++;
          compensations.push(this.#o.redis.couponRefund(
            k.state,
            k.users,
            k.grants,
            GRANT_GROUP,
            g.entryId,
            g.userId,
            storedCount,
          ));
          notices.push({ type: "CouponAlreadyIssued", ...base, couponId: o.heldCouponId });
          break;
        case "sold_out":
          this.counts.soldOut++;
          compensations.push(this.#o.redis.couponSoldOut(
            k.state,
            k.users,
            k.grants,
            GRANT_GROUP,
            g.entryId,
            g.userId,
          ));
          notices.push({ type: "CouponSoldOut", ...base, couponId: g.couponId });
          break;
      }
    });
    try {
      await Promise.all([
        acks.length > 0 ? this.#o.redis.xack(k.grants, GRANT_GROUP, ...acks) : null,
        ...compensations,
      ]);
      await this.#o.redis.couponRaise(k.state, storedCount);
    } catch (err) {
      // Stored, not acknowledged: the redelivery finds the rows and acknowledges.
      this.#retryOwn.add(c.id);
      throw err;
    }
    const pipe = this.#o.redis.pipeline();
    for (const n of notices) pipe.publish(NOTIFY_CHANNEL, JSON.stringify(n));
    await pipe.exec().catch(() => {}); // best effort: the coupon is stored either way
  }

  /** One transaction for the batch; one per grant when the campaign's total is in the way. */
  async #write(c: Campaign, grants: Pending[]): Promise<GrantOutcome[]> {
    try {
      return await storeGrants(this.#o.sql, c, grants);
    } catch (err) {
      if (!isOverTotal(err)) throw err;
    }
    const out: GrantOutcome[] = [];
    for (const g of grants) {
      try {
        out.push((await storeGrants(this.#o.sql, c, [g]))[0]);
      } catch (err) {
        if (!isOverTotal(err)) throw err;
        out.push({ kind: "sold_out" });
      }
    }
    return out;
  }
}

function fieldsOf(fields: string[] | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; fields && i + 1 < fields.length; i += 2) out[fields[i]] = fields[i + 1];
  return out;
}
