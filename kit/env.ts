/**
 * Reading configuration from environment variables: one place per process
 * calls these (its config.ts), everything else receives plain values.
 * `./dev` exports the suite's settings; `deno task run:*` reads them from
 * `.data/dev.env`.
 *
 * @module
 */

/** Raised for a missing or malformed environment variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** A string variable, or its default; without a default it is required. */
export function envString(name: string, fallback?: string): string {
  const v = Deno.env.get(name);
  if (v !== undefined && v !== "") return v;
  if (fallback !== undefined) return fallback;
  throw new ConfigError(`${name} is not set (start processes through ./dev, which sets it)`);
}

/** An integer variable within [min, max]. */
export function envInt(
  name: string,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = Deno.env.get(name);
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name}=${raw} is not an integer in [${min}, ${max}]`);
  }
  return n;
}

/** A boolean variable: true/false/1/0/yes/no. */
export function envBool(name: string, fallback: boolean): boolean {
  const raw = Deno.env.get(name)?.toLowerCase();
  if (raw === undefined || raw === "") return fallback;
  if (["1", "true", "yes", "on"].includes(raw)) return true;
  if (["0", "false", "no", "off"].includes(raw)) return false;
  throw new ConfigError(`${name}=${raw} is not a boolean`);
}

/** Where the shared infrastructure is: the defaults match infra/lib.sh. */
export interface InfraConfig {
  pg: {
    host: string;
    port: number;
    database: string;
    superuser: string;
    superuserPassword: string;
  };
  redis: { host: string; port: number; password: string };
  kafkaBrokers: string[];
  jaegerQueryUrl: string;
  otlpEndpoint: string;
}

/** Where Postgres is, without any credential: what every database client needs. */
export function pgAddress(): { host: string; port: number; database: string } {
  return {
    host: envString("PG_HOST", "127.0.0.1"),
    port: envInt("PG_PORT", 55432, 1, 65535),
    database: envString("PG_DATABASE", "shop"),
  };
}

export function infraConfig(): InfraConfig {
  return {
    pg: {
      ...pgAddress(),
      superuser: envString("PG_SUPERUSER", "postgres"),
      superuserPassword: envString("PG_SUPERUSER_PASSWORD"),
    },
    redis: {
      host: envString("REDIS_HOST", "127.0.0.1"),
      port: envInt("REDIS_PORT", 56379, 1, 65535),
      password: envString("REDIS_PASSWORD"),
    },
    kafkaBrokers: envString("KAFKA_BROKERS", "127.0.0.1:59091,127.0.0.1:59092,127.0.0.1:59093")
      .split(",").map((b) => b.trim()).filter(Boolean),
    jaegerQueryUrl: envString("JAEGER_QUERY_URL", "http://127.0.0.1:56686"),
    otlpEndpoint: envString("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:54318"),
  };
}

/**
 * The HS256 key that signs and verifies API tokens (JWT_SECRET; `./dev` makes
 * one per machine). At least 32 characters: a shorter HMAC key can be guessed.
 */
export function jwtSecret(): string {
  const secret = envString("JWT_SECRET");
  if (secret.length < 32) throw new ConfigError("JWT_SECRET must be at least 32 characters");
  return secret;
}
