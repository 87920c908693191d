/**
 * The coupon service's Redis connections. Commands fail fast while Redis is
 * unreachable (no offline queue, no re-sending of unanswered commands, a
 * command timeout): an issue request must be answered 503 at once rather
 * than hang, and a command whose answer was lost must not run a second time
 * later behind the caller's back.
 *
 * @module
 */
import { Redis } from "ioredis";
import { type ScriptedRedis, withScripts } from "./scripts.ts";

export interface RedisSettings {
  host: string;
  port: number;
  password: string;
  /** A command not answered within this fails (ms). */
  timeoutMs: number;
}

/** A client for commands; it connects in the background and keeps reconnecting. */
export function connectRedis(s: RedisSettings, name: string): ScriptedRedis {
  const redis = new Redis({
    host: s.host,
    port: s.port,
    password: s.password,
    connectionName: name,
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: s.timeoutMs,
    connectTimeout: 1_000,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(50 * times, 500),
  });
  redis.on("error", () => {}); // reported by the commands that fail
  redis.connect().catch(() => {});
  return withScripts(redis);
}

/** A client for pub/sub: it queues while disconnected and re-subscribes on reconnect. */
export function connectSubscriber(s: RedisSettings, name: string): Redis {
  const redis = new Redis({
    host: s.host,
    port: s.port,
    password: s.password,
    connectionName: name,
    lazyConnect: true,
    retryStrategy: (times) => Math.min(50 * times, 500),
  });
  redis.on("error", () => {});
  redis.connect().catch(() => {});
  return redis;
}
