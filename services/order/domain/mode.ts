/**
 * Choosing parallel or sequential per order (SPEC §4.3.5, hybrid): simple
 * orders — at most 3 lines, no coupon, no points — may run in parallel,
 * others run sequentially; a rollout switch (enabled + percentage) picks
 * which users get parallel processing at all, by `hash(userId) % 100`.
 *
 * @module
 */
import type { SagaMode } from "./saga.ts";

export type Strategy = "parallel" | "sequential" | "hybrid";

export interface ModeSettings {
  strategy: Strategy;
  parallelEnabled: boolean;
  /** 0–100: share of users (by hash) for whom parallel processing is on. */
  parallelPercentage: number;
}

export interface OrderShape {
  userId: string;
  lines: number;
  usesCoupon: boolean;
  usesPoints: boolean;
}

/** A stable hash of the user id in [0, 100): FNV-1a, 32 bit. */
export function userBucket(userId: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(userId)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % 100;
}

export function isSimple(order: OrderShape): boolean {
  return order.lines <= 3 && !order.usesCoupon && !order.usesPoints;
}

/** The mode this order runs in under these settings. */
export function chooseMode(order: OrderShape, settings: ModeSettings): SagaMode {
  const rolledOut = settings.parallelEnabled &&
    userBucket(order.userId) < settings.parallelPercentage;
  if (!rolledOut) return "sequential";
  switch (settings.strategy) {
    case "parallel":
      return "parallel";
    case "sequential":
      return "sequential";
    case "hybrid":
      return isSimple(order) ? "parallel" : "sequential";
  }
}
