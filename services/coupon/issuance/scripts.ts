/**
 * The Lua scripts of first-come-first-served issuance, registered on an
 * ioredis client with `defineCommand` (EVALSHA, falling back to EVAL after
 * Redis lost its script cache). Each touches the keys of ONE campaign only
 * (keys.ts: one hash tag), so each runs atomically, on Redis Cluster too.
 *
 * - `couponIssue` — SPEC §5.2.1, the whole decision in one step: refuse
 *   outside the window, refuse a user who has it, refuse at the maximum,
 *   otherwise count, record the user (24 h expiry) and append the grant to
 *   the campaign's stream for durable processing. Answers `rebuild` when the
 *   campaign's keys are missing (never loaded, or lost by Redis).
 * - `couponLoad` — (re)writes a campaign's keys from the database.
 * - `couponRefund` / `couponSoldOut` — SPEC §5.2.2, compensation when the
 *   database refuses a grant, together with the grant's XACK, so a
 *   redelivered grant is never compensated twice.
 * - `couponRaise` — raises the count to the database's after Redis lost
 *   grants that were already stored.
 *
 * @module
 */
import type { Redis } from "ioredis";

/** A campaign's state and grants are kept a week after it ends (then a request rebuilds them). */
const KEEP_MS = 7 * 24 * 60 * 60 * 1000;

const ISSUE = `
local s = redis.call('HMGET', KEYS[1], 'total', 'starts', 'ends', 'issued')
if not s[1] then return {'rebuild'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now < tonumber(s[2]) then return {'not_started'} end
if now >= tonumber(s[3]) then return {'ended'} end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return {'already_issued'} end
local issued = tonumber(s[4])
if issued > 0 and redis.call('EXISTS', KEYS[2]) == 0 then return {'rebuild'} end
if issued >= tonumber(s[1]) then return {'sold_out'} end
issued = redis.call('HINCRBY', KEYS[1], 'issued', 1)
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[3])
local id = redis.call('XADD', KEYS[3], '*', 'user', ARGV[1], 'coupon', ARGV[2])
redis.call('PEXPIREAT', KEYS[3], tonumber(s[3]) + KEEP_MS)
return {'issued', issued, id}
`.replaceAll("KEEP_MS", String(KEEP_MS));

// ARGV: total, starts, ends, issued (from the database), users' ttl, users...
// A count Redis still has is kept when higher: grants still in the stream
// are not in the database yet (the database refuses any excess anyway). Not
// without users: a count above zero with no user set means "rebuild" to the
// issue script.
const LOAD = `
local cur = tonumber(redis.call('HGET', KEYS[1], 'issued') or '0')
local issued = tonumber(ARGV[4])
if #ARGV >= 6 then issued = math.max(cur, issued) end
redis.call('DEL', KEYS[1], KEYS[2])
for i = 6, #ARGV, 1000 do
  redis.call('SADD', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if #ARGV >= 6 then redis.call('EXPIRE', KEYS[2], ARGV[5]) end
redis.call('HSET', KEYS[1], 'total', ARGV[1], 'starts', ARGV[2], 'ends', ARGV[3], 'issued', issued)
redis.call('PEXPIREAT', KEYS[1], tonumber(ARGV[3]) + KEEP_MS)
return issued
`.replaceAll("KEEP_MS", String(KEEP_MS));

// The user holds another coupon of the campaign: give the count back (the
// user stays in the set), never below what the database holds.
// KEYS: state, users, grants; ARGV: group, entry, user, the database's count.
const REFUND = `
if redis.call('XACK', KEYS[3], ARGV[1], ARGV[2]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then
  local n = tonumber(redis.call('HGET', KEYS[1], 'issued')) - 1
  if n < tonumber(ARGV[4]) then n = tonumber(ARGV[4]) end
  redis.call('HSET', KEYS[1], 'issued', n)
  redis.call('SADD', KEYS[2], ARGV[3])
end
return 1
`;

// Every row was a grant Redis counted first, so Redis's count is never below
// the database's — unless Redis lost grants the worker had already stored
// (e.g. a kill within the AOF's fsync second): then it is raised to it.
// KEYS: state; ARGV: the database's count.
const RAISE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'issued')) < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'issued', ARGV[1])
  return 1
end
return 0
`;

// The database is at the campaign's total: the user has no coupon, and Redis
// counts the campaign as sold out.
const SOLD_OUT = `
if redis.call('XACK', KEYS[3], ARGV[1], ARGV[2]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SREM', KEYS[2], ARGV[3])
  local total = redis.call('HGET', KEYS[1], 'total')
  if tonumber(redis.call('HGET', KEYS[1], 'issued')) < tonumber(total) then
    redis.call('HSET', KEYS[1], 'issued', total)
  end
end
return 1
`;

/** `couponIssue`'s answer: `["issued", count, streamId]` or `[refusal]`. */
export type IssueReply = [string, number?, string?];

/** The scripts as methods of the client. */
export interface CouponScripts {
  couponIssue(
    state: string,
    users: string,
    grants: string,
    userId: string,
    couponId: string,
    usersTtlSeconds: number,
  ): Promise<IssueReply>;
  couponLoad(state: string, users: string, ...args: (string | number)[]): Promise<number>;
  couponRefund(
    state: string,
    users: string,
    grants: string,
    group: string,
    entryId: string,
    userId: string,
    storedCount: number,
  ): Promise<number>;
  couponRaise(state: string, storedCount: number): Promise<number>;
  couponSoldOut(
    state: string,
    users: string,
    grants: string,
    group: string,
    entryId: string,
    userId: string,
  ): Promise<number>;
}

export type ScriptedRedis = Redis & CouponScripts;

/** Registers the scripts on `redis` (idempotent) and returns it, typed. */
export function withScripts(redis: Redis): ScriptedRedis {
  const r = redis as ScriptedRedis;
  if (typeof r.couponIssue !== "function") {
    redis.defineCommand("couponIssue", { numberOfKeys: 3, lua: ISSUE });
    redis.defineCommand("couponLoad", { numberOfKeys: 2, lua: LOAD });
    redis.defineCommand("couponRefund", { numberOfKeys: 3, lua: REFUND });
    redis.defineCommand("couponSoldOut", { numberOfKeys: 3, lua: SOLD_OUT });
    redis.defineCommand("couponRaise", { numberOfKeys: 1, lua: RAISE });
  }
  return r;
}
