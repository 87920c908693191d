/**
 * The chaos run's knobs, from flags (`--duration=600`) or the environment
 * (`CHAOS_DURATION_S=600`); flags win. Defaults are the full run of issue #7.
 *
 * @module
 */

export interface ChaosOptions {
  /** Seconds of load and kills (the kill schedule is spread over them). */
  durationS: number;
  /** Orders placed per second, steadily. */
  ratePerS: number;
  /** Admin coupon grants per second (coupon service API), used by later orders. */
  couponGrantsPerS: number;
  /** SIGKILLs of a random broker (one down at a time). */
  brokerKills: number;
  /** SIGKILLs of each of: relay, order, inventory, coupon, point. */
  processKills: number;
  /** `./dev postgres restart` count. */
  postgresRestarts: number;
  /** `./dev redis restart` count. */
  redisRestarts: number;
  /** How long a killed process or broker stays down (ms, random in [min, max]). */
  downMs: [number, number];
  /** Brokers stay down longer: "restarts it after a few seconds". */
  brokerDownMs: [number, number];
  /** Most seconds to wait for everything to drain after the load stops. */
  drainTimeoutS: number;
  /** Most seconds a recovery may take before it counts as a violation. */
  recoverTimeoutS: number;
  /** Order saga deadline of the order services (ms). */
  sagaDeadlineMs: number;
  /** Users placing orders. */
  users: number;
  /** FCFS issue requests per second (`POST /coupons/issue`, one campaign); 0: none. */
  fcfsRatePerS: number;
  /** The campaign's coupons (three times as many users ask). */
  fcfsTotal: number;
}

export const FULL_RUN: ChaosOptions = {
  durationS: 600,
  ratePerS: 4,
  couponGrantsPerS: 1,
  brokerKills: 10,
  processKills: 3,
  postgresRestarts: 1,
  redisRestarts: 1,
  downMs: [1_000, 3_000],
  brokerDownMs: [3_000, 6_000],
  drainTimeoutS: 240,
  recoverTimeoutS: 120,
  sagaDeadlineMs: 30_000,
  users: 30,
  fcfsRatePerS: 2,
  fcfsTotal: 50,
};

const NAMES: Record<string, keyof ChaosOptions> = {
  "duration": "durationS",
  "rate": "ratePerS",
  "coupon-rate": "couponGrantsPerS",
  "broker-kills": "brokerKills",
  "process-kills": "processKills",
  "postgres-restarts": "postgresRestarts",
  "redis-restarts": "redisRestarts",
  "drain-timeout": "drainTimeoutS",
  "recover-timeout": "recoverTimeoutS",
  "saga-deadline-ms": "sagaDeadlineMs",
  "users": "users",
  "fcfs-rate": "fcfsRatePerS",
  "fcfs-total": "fcfsTotal",
};

const ENV: Record<string, keyof ChaosOptions> = {
  CHAOS_DURATION_S: "durationS",
  CHAOS_RATE: "ratePerS",
  CHAOS_COUPON_RATE: "couponGrantsPerS",
  CHAOS_BROKER_KILLS: "brokerKills",
  CHAOS_PROCESS_KILLS: "processKills",
  CHAOS_POSTGRES_RESTARTS: "postgresRestarts",
  CHAOS_REDIS_RESTARTS: "redisRestarts",
  CHAOS_DRAIN_TIMEOUT_S: "drainTimeoutS",
  CHAOS_RECOVER_TIMEOUT_S: "recoverTimeoutS",
  CHAOS_SAGA_DEADLINE_MS: "sagaDeadlineMs",
  CHAOS_USERS: "users",
  CHAOS_FCFS_RATE: "fcfsRatePerS",
  CHAOS_FCFS_TOTAL: "fcfsTotal",
};

export const USAGE = `deno task chaos [--duration=S] [--rate=N] [--coupon-rate=N] [--broker-kills=N]
  [--process-kills=N] [--postgres-restarts=N] [--redis-restarts=N] [--drain-timeout=S]
  [--recover-timeout=S] [--saga-deadline-ms=MS] [--users=N] [--fcfs-rate=N] [--fcfs-total=N]
(or CHAOS_DURATION_S, CHAOS_RATE, CHAOS_BROKER_KILLS, … in the environment)`;

function number(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${raw} is not a number ≥ 0`);
  return n;
}

/** Options from `args` and `env` over `base`. Throws on an unknown flag or a bad value. */
export function parseOptions(
  args: string[],
  env: Record<string, string | undefined> = Deno.env.toObject(),
  base: ChaosOptions = FULL_RUN,
): ChaosOptions {
  const out = { ...base } as Record<keyof ChaosOptions, unknown>;
  for (const [name, key] of Object.entries(ENV)) {
    const raw = env[name];
    if (raw !== undefined && raw !== "") out[key] = number(name, raw);
  }
  for (let i = 0; i < args.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(args[i]);
    const key = m ? NAMES[m[1]] : undefined;
    if (!m || !key) throw new Error(`unknown argument ${args[i]}\n${USAGE}`);
    const raw = m[2] ?? args[++i];
    if (raw === undefined) throw new Error(`--${m[1]} needs a value`);
    out[key] = number(`--${m[1]}`, raw);
  }
  return out as unknown as ChaosOptions;
}
