/**
 * Deciding issue requests (SPEC §5.2.1) with Redis: ONE Lua script per
 * request (scripts.ts `couponIssue`) refuses or grants, and appends the grant
 * to the campaign's stream, which the grant worker stores in Postgres.
 *
 * Postgres is the source of truth: when the campaign's keys are missing
 * (never loaded, or Redis lost its data to a flush or a restart without its
 * AOF) the script answers `rebuild`, and the keys are rebuilt from the
 * database (under a per-campaign lock in Redis, one rebuild per process at a
 * time) before the request is decided.
 *
 * Unknown campaign ids (typos, probes, a flood of random ids) cost one Redis
 * call (the script's `rebuild`) and one indexed read, and leave nothing in
 * Redis: the rebuild lock is taken only for a campaign the database has. The
 * miss is remembered in a bounded, expiring cache (unknown_campaigns.ts)
 * that is consulted only after Redis answered `rebuild`, so a campaign
 * created since — its keys loaded by `campaignCreated` on whichever instance
 * created it — is served at once everywhere; one whose keys did not reach
 * Redis is found in the database once the miss expires (`UNKNOWN_TTL_MS`).
 *
 * Every Redis call goes through a circuit breaker (SPEC §9.1): while Redis is
 * down requests are refused at once with {@link IssuerUnavailableError}
 * (HTTP 503 + Retry-After) instead of waiting.
 *
 * @module
 */
import type { Sql } from "../../../db/mod.ts";
import {
  type Breaker,
  BreakerOpenError,
  type BreakerPolicy,
  createBreaker,
} from "../../../kit/breaker.ts";
import type { Logger } from "../../../kit/log.ts";
import { campaignSnapshot, findCampaign } from "../campaign_store.ts";
import type { Campaign, IssueDecision } from "../domain/campaign.ts";
import { campaignKeys, USERS_TTL_SECONDS } from "./keys.ts";
import type { ScriptedRedis } from "./scripts.ts";
import { UnknownCampaigns } from "./unknown_campaigns.ts";

/** What the HTTP API asks of an issuer (Redis here, a row lock in the baseline). */
export interface Issuer {
  issue(campaignId: string, userId: string): Promise<IssueDecision>;
  /** A campaign was created: make it ready for requests. */
  campaignCreated(c: Campaign): Promise<void>;
  /** Grants decided so far (may run ahead of the stored count); null when unknown. */
  granted(campaignId: string): Promise<number | null>;
}

/** Redis cannot be reached (or its breaker is open): try again in `retryAfterSeconds`. */
export class IssuerUnavailableError extends Error {
  override name = "IssuerUnavailableError";
  constructor(readonly retryAfterSeconds: number, cause?: unknown) {
    super("coupon issuance is unavailable for a moment", { cause });
  }
}

/** The Redis breaker: SPEC §9.1's shape, opening after 50 % failures of ≥ 5 calls in 10 s. */
export function redisBreakerPolicy(openMs: number): BreakerPolicy {
  return { failureRatePercent: 50, openMs, windowSeconds: 10, minimumCalls: 5 };
}

/** How long a request waits for another instance's rebuild before a 503. */
const REBUILD_WAIT_MS = 3_000;
/** How long an unknown campaign id is remembered (spares the database a flood). */
const UNKNOWN_TTL_MS = 1_000;
/** How many unknown ids are remembered at most (ids come from callers: bound the memory). */
const UNKNOWN_MAX_ENTRIES = 10_000;

type Rebuilt = "loaded" | "unknown" | "busy";

export interface RedisIssuerOptions {
  redis: ScriptedRedis;
  sql: Sql;
  log: Logger;
  /** How long the breaker stays open (ms). */
  breakerOpenMs: number;
  /** Called after every grant (wakes the grant worker). */
  onGrant?: (campaignId: string) => void;
}

export class RedisIssuer implements Issuer {
  readonly breaker: Breaker<[() => Promise<unknown>], unknown>;
  #o: RedisIssuerOptions;
  #rebuilding = new Map<string, Promise<Rebuilt>>();
  #unknown = new UnknownCampaigns({ ttlMs: UNKNOWN_TTL_MS, maxEntries: UNKNOWN_MAX_ENTRIES });
  rebuilds = 0;

  constructor(o: RedisIssuerOptions) {
    this.#o = o;
    this.breaker = createBreaker(
      "coupon-redis",
      (op: () => Promise<unknown>) => op(),
      redisBreakerPolicy(o.breakerOpenMs),
    );
  }

  /** Runs a Redis call through the breaker; IssuerUnavailableError when Redis is not there. */
  async #redis<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await this.breaker.fire(op) as T;
    } catch (err) {
      if (err instanceof BreakerOpenError) {
        throw new IssuerUnavailableError(Math.max(1, Math.ceil(err.retryAfterMs / 1000)), err);
      }
      throw new IssuerUnavailableError(1, err);
    }
  }

  async issue(campaignId: string, userId: string): Promise<IssueDecision> {
    const k = campaignKeys(campaignId);
    const couponId = crypto.randomUUID();
    const deadline = Date.now() + REBUILD_WAIT_MS;
    while (true) {
      const reply = await this.#redis(() =>
        this.#o.redis.couponIssue(k.state, k.users, k.grants, userId, couponId, USERS_TTL_SECONDS)
      );
      switch (reply[0]) {
        case "issued":
          this.#o.onGrant?.(campaignId);
          return { result: "issued", couponId };
        case "already_issued":
        case "sold_out":
        case "ended":
          return { result: reply[0] };
        case "not_started": {
          const starts = await this.#redis(() => this.#o.redis.hget(k.state, "starts"));
          return { result: "not_started", startsAt: new Date(Number(starts)) };
        }
        case "rebuild": {
          // Keys missing: a miss remembered a moment ago spares the database.
          if (this.#unknown.has(campaignId)) return { result: "unknown_campaign" };
          const rebuilt = await this.#rebuild(campaignId);
          if (rebuilt === "unknown") return { result: "unknown_campaign" };
          if (Date.now() > deadline) throw new IssuerUnavailableError(1);
          continue;
        }
        default:
          throw new Error(`couponIssue answered ${JSON.stringify(reply)}`);
      }
    }
  }

  /** One rebuild per campaign at a time in this process; others wait for it. */
  #rebuild(campaignId: string): Promise<Rebuilt> {
    let p = this.#rebuilding.get(campaignId);
    if (!p) {
      p = this.#doRebuild(campaignId).finally(() => this.#rebuilding.delete(campaignId));
      this.#rebuilding.set(campaignId, p);
    }
    return p;
  }

  async #doRebuild(campaignId: string): Promise<Rebuilt> {
    // One indexed read before any lock: an unknown id writes nothing to Redis.
    if (!(await findCampaign(this.#o.sql, campaignId))) {
      this.#unknown.remember(campaignId);
      return "unknown";
    }
    const k = campaignKeys(campaignId);
    const lock = crypto.randomUUID();
    const got = await this.#redis(() => this.#o.redis.set(k.rebuildLock, lock, "PX", 10_000, "NX"));
    if (got !== "OK") {
      await new Promise((r) => setTimeout(r, 20)); // another instance is at it
      return "busy";
    }
    try {
      const snap = await campaignSnapshot(this.#o.sql, campaignId);
      if (!snap) {
        this.#unknown.remember(campaignId);
        return "unknown";
      }
      const count = await this.#load(snap.campaign, snap.users);
      this.rebuilds++;
      this.#o.log.info("campaign rebuilt in Redis from the database", {
        campaign: campaignId,
        issued: snap.campaign.issued,
        counted: count,
      });
      return "loaded";
    } finally {
      await this.#o.redis.eval(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end",
        1,
        k.rebuildLock,
        lock,
      ).catch(() => {});
    }
  }

  #load(c: Campaign, users: string[]): Promise<number> {
    const k = campaignKeys(c.id);
    return this.#redis(() =>
      this.#o.redis.couponLoad(
        k.state,
        k.users,
        c.total,
        c.startsAt.getTime(),
        c.endsAt.getTime(),
        c.issued,
        USERS_TTL_SECONDS,
        ...users,
      )
    );
  }

  async campaignCreated(c: Campaign): Promise<void> {
    this.#unknown.forget(c.id);
    // If Redis is down now, the first request rebuilds the keys instead.
    await this.#load(c, []).catch((err) =>
      this.#o.log.warn("campaign not loaded into Redis yet", { campaign: c.id, error: err })
    );
  }

  async granted(campaignId: string): Promise<number | null> {
    try {
      const n = await this.#redis(() =>
        this.#o.redis.hget(campaignKeys(campaignId).state, "issued")
      );
      return n === null ? null : Number(n);
    } catch {
      return null;
    }
  }

  /** How many campaign ids the issuer holds in memory (misses remembered, rebuilds running). */
  cachedEntries(): { unknown: number; rebuilding: number } {
    return { unknown: this.#unknown.size, rebuilding: this.#rebuilding.size };
  }

  shutdown(): void {
    this.breaker.shutdown();
  }
}
