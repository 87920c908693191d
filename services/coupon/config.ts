/**
 * Every setting of the coupon service, read from the environment once
 * (`./dev` and `.data/dev.env` provide the suite's values): the participant
 * settings of kit/service.ts under the `COUPON_` prefix, HTTP port 7103, consumer
 * group and inbox name `coupon-service`; and the first-come-first-served
 * issuance's (SPEC §5): Redis, the grant worker, the Redis breaker.
 *
 * @module
 */
import { envBool, envInt, envString } from "../../kit/env.ts";
import { COUPON_BREAKER } from "../../kit/breaker.ts";
import { loadParticipantConfig, type ParticipantConfig } from "../../kit/service.ts";

/** How issue requests are decided: Redis Lua (SPEC §5.2.1), or the baseline row lock. */
export type IssuerKind = "redis" | "pg-lock";

export interface IssuanceConfig {
  /** COUPON_ISSUER: `redis` (default) or `pg-lock` (the benchmark's baseline). */
  issuer: IssuerKind;
  redis: { host: string; port: number; password: string };
  /** COUPON_INSTANCE_ID: this process's name in the grant streams' consumer group. */
  instanceId: string;
  /** COUPON_GRANT_BATCH: grants written per database transaction (default 200). */
  grantBatch: number;
  /** COUPON_GRANT_CLAIM_IDLE_MS: a grant pending this long on a dead consumer is taken over. */
  claimIdleMs: number;
  /** COUPON_REDIS_TIMEOUT_MS: a Redis command not answered by then fails (default 500). */
  redisTimeoutMs: number;
  /** COUPON_REDIS_BREAKER_OPEN_MS: how long the Redis breaker stays open (default 5000). */
  breakerOpenMs: number;
}

export interface CouponConfig extends ParticipantConfig {
  /**
   * COUPON_SAGA_CONSUMER: run the order saga's consumer (default true). The
   * coupon burst's tests and benchmark start issuance-only processes (false),
   * which must not answer the saga's commands next to the real service.
   */
  sagaConsumer: boolean;
  issuance: IssuanceConfig;
}

export function loadCouponConfig(): CouponConfig {
  // SPEC §9.1's coupon breaker, around the coupon handlers' Postgres work.
  const base = loadParticipantConfig({
    prefix: "COUPON",
    name: "coupon",
    httpPort: 7103,
    breaker: COUPON_BREAKER,
  });
  const issuer = envString("COUPON_ISSUER", "redis");
  if (issuer !== "redis" && issuer !== "pg-lock") {
    throw new Error(`COUPON_ISSUER=${issuer} is not one of redis, pg-lock`);
  }
  return {
    ...base,
    sagaConsumer: envBool("COUPON_SAGA_CONSUMER", true),
    issuance: {
      issuer,
      // The same variables as kit/env.ts infraConfig(), without the superuser's secret.
      redis: {
        host: envString("REDIS_HOST", "127.0.0.1"),
        port: envInt("REDIS_PORT", 56379, 1, 65535),
        password: envString("REDIS_PASSWORD"),
      },
      instanceId: envString("COUPON_INSTANCE_ID", `coupon-${crypto.randomUUID().slice(0, 8)}`),
      grantBatch: envInt("COUPON_GRANT_BATCH", 200, 1, 5_000),
      claimIdleMs: envInt("COUPON_GRANT_CLAIM_IDLE_MS", 5_000, 100, 3_600_000),
      redisTimeoutMs: envInt("COUPON_REDIS_TIMEOUT_MS", 500, 10, 60_000),
      breakerOpenMs: envInt("COUPON_REDIS_BREAKER_OPEN_MS", 5_000, 100, 600_000),
    },
  };
}
