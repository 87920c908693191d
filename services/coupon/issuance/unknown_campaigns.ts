/**
 * The campaign ids the database did not know, remembered for a moment so a
 * flood of requests for them does not become a flood of queries — bounded in
 * age AND in size, since the ids come from callers (a stream of random ids
 * must not grow the process's memory).
 *
 * Every entry lives the same `ttlMs`, so the Map's insertion order is also
 * the order of expiry: expired entries and the oldest beyond `maxEntries`
 * are dropped from its front, at O(1) per entry.
 *
 * @module
 */

export interface UnknownCampaignsOptions {
  /** How long a miss is remembered (ms). */
  ttlMs: number;
  /** Most ids remembered at once; the oldest go first. */
  maxEntries: number;
}

export class UnknownCampaigns {
  readonly #o: UnknownCampaignsOptions;
  /** id → when it is forgotten (epoch ms), oldest first. */
  readonly #until = new Map<string, number>();

  constructor(o: UnknownCampaignsOptions) {
    this.#o = o;
  }

  /** True while the database's "no such campaign" for `id` is fresh. */
  has(id: string, now = Date.now()): boolean {
    this.#prune(now);
    return this.#until.has(id);
  }

  /** The database does not know `id` (as of now). */
  remember(id: string, now = Date.now()): void {
    this.#until.delete(id); // re-inserted at the back: insertion order stays expiry order
    this.#until.set(id, now + this.#o.ttlMs);
    this.#prune(now);
  }

  /** `id` exists now (a campaign was created): stop answering "unknown" at once. */
  forget(id: string): void {
    this.#until.delete(id);
  }

  /** How many ids are remembered (at most `maxEntries`). */
  get size(): number {
    return this.#until.size;
  }

  #prune(now: number): void {
    for (const [id, until] of this.#until) {
      if (until > now && this.#until.size <= this.#o.maxEntries) return;
      this.#until.delete(id);
    }
  }
}
