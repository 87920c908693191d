/**
 * First-come-first-served issuance (SPEC §5) as the coupon process runs it:
 * the issuer the HTTP API asks (Redis, or the baseline row lock), the grant
 * worker that stores Redis's grants in Postgres, and the WebSocket notifier.
 *
 * @module
 */
import type { Sql } from "../../../db/mod.ts";
import type { Logger } from "../../../kit/log.ts";
import type { IssuanceConfig } from "../config.ts";
import { GrantWorker } from "./grant_worker.ts";
import { type Issuer, RedisIssuer } from "./issuer.ts";
import { CouponNotifier } from "./notifier.ts";
import { PgLockIssuer } from "./pg_lock_issuer.ts";
import { connectRedis, connectSubscriber } from "./redis.ts";

export { type Issuer, IssuerUnavailableError, RedisIssuer } from "./issuer.ts";
export { GrantWorker } from "./grant_worker.ts";
export { CouponNotifier } from "./notifier.ts";
export { PgLockIssuer } from "./pg_lock_issuer.ts";

export interface Issuance {
  issuer: Issuer;
  notifier?: CouponNotifier;
  worker?: GrantWorker;
  stop(): Promise<void>;
}

/** Starts what `cfg.issuer` needs; `stop()` ends it (the worker finishes its batch). */
export function startIssuance(cfg: IssuanceConfig, sql: Sql, log: Logger): Issuance {
  if (cfg.issuer === "pg-lock") {
    return { issuer: new PgLockIssuer(sql), stop: () => Promise.resolve() };
  }
  const settings = { ...cfg.redis, timeoutMs: cfg.redisTimeoutMs };
  const redis = connectRedis(settings, `${cfg.instanceId}-issue`);
  const workerRedis = connectRedis(
    { ...settings, timeoutMs: Math.max(cfg.redisTimeoutMs, 5_000) },
    `${cfg.instanceId}-grants`,
  );
  const sub = connectSubscriber(settings, `${cfg.instanceId}-notify`);
  const worker = new GrantWorker({
    redis: workerRedis,
    sql,
    log,
    consumer: cfg.instanceId,
    batch: cfg.grantBatch,
    claimIdleMs: cfg.claimIdleMs,
  });
  const issuer = new RedisIssuer({
    redis,
    sql,
    log,
    breakerOpenMs: cfg.breakerOpenMs,
    onGrant: (campaignId) => worker.wake(campaignId),
  });
  const notifier = new CouponNotifier(log);
  notifier.start(sub).catch((err) => log.warn("coupon notices not subscribed", { error: err }));
  worker.start();
  return {
    issuer,
    notifier,
    worker,
    async stop() {
      await worker.stop();
      notifier.stop();
      issuer.shutdown();
      redis.disconnect();
      workerRedis.disconnect();
    },
  };
}
