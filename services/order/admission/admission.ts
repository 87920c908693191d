/**
 * Admission control of `POST /orders` in one order instance (issue #17):
 * the shared signal (signal.ts) read at most every `refreshMs` and kept in
 * memory, so checking a request costs no query and never waits for one (a
 * reading up to 5 × `refreshMs`, at least 1 s, old is used while the next is
 * read); the decision (policy.ts) counts the sagas this instance admitted
 * since the reading, which the reading cannot see yet.
 *
 * @module
 */
import type { Sql } from "../../../db/mod.ts";
import {
  type AdmissionPolicy,
  type AdmissionSignal,
  type AdmissionState,
  admissionState,
  decide,
  type Decision,
} from "./policy.ts";
import { readAdmissionSignal } from "./signal.ts";

export interface AdmissionConfig extends AdmissionPolicy {
  /** How long a reading of the signal is used (ms). */
  refreshMs: number;
  /** The window the completion rate is measured over (ms). */
  windowMs: number;
}

/** What a decision is reported to (metrics.ts). */
export interface AdmissionObserver {
  read?(state: AdmissionState): void;
}

export class Admission {
  #reading: { signal: AdmissionSignal; at: number } | null = null;
  #refresh: Promise<void> | null = null;
  /** Admitted since the reading was taken (their orders may not be in it). */
  #admittedSince = 0;
  /** Admitted, their order's transaction not ended yet. */
  #placing = 0;

  constructor(
    readonly config: AdmissionConfig,
    private readonly read: () => Promise<AdmissionSignal>,
    private readonly observer: AdmissionObserver = {},
  ) {}

  /** Reads the orders table of `sql` (the order service's pool). */
  static onDatabase(sql: Sql, config: AdmissionConfig, observer?: AdmissionObserver): Admission {
    return new Admission(config, () => readAdmissionSignal(sql, config.windowMs), observer);
  }

  /**
   * May one more saga start? Counts it as admitted when so: call it only
   * right before placing the order, and {@link placed} when its transaction
   * has ended.
   */
  async admit(): Promise<Decision> {
    const decision = decide(await this.#signal(), this.config, this.#admittedSince);
    if (decision.admit) {
      this.#admittedSince++;
      this.#placing++;
    }
    return decision;
  }

  /** The transaction of an admitted order ended (committed or not). */
  placed(): void {
    this.#placing = Math.max(0, this.#placing - 1);
  }

  /** The limits as last read (reads when there is no recent reading). */
  async state(): Promise<AdmissionState> {
    return admissionState(await this.#signal(), this.config);
  }

  async #signal(): Promise<AdmissionSignal> {
    const reading = this.#reading;
    const age = reading ? Date.now() - reading.at : Infinity;
    if (reading && age < this.config.refreshMs) return reading.signal;
    const refresh = this.#read();
    // A reading a little old is used while the next one is read: a refusal
    // must not wait for the database, which is busiest exactly then. Only
    // without any recent reading (the first request, a database that does
    // not answer) does a request wait for one.
    if (reading && age < staleLimitMs(this.config)) {
      refresh.catch(() => {}); // its error reaches the next request that waits
      return reading.signal;
    }
    await refresh;
    return this.#reading!.signal;
  }

  /** Reads the signal; one query at a time per instance, however many requests ask. */
  #read(): Promise<void> {
    return this.#refresh ??= (async () => {
      // The reading sees the orders committed before its query; admissions
      // from here on, and those whose transaction is still open, may not be.
      const since = Date.now();
      const admittedBefore = this.#admittedSince;
      const stillPlacing = this.#placing;
      try {
        const signal = await this.read();
        this.#reading = { signal, at: since };
        this.#admittedSince += stillPlacing - admittedBefore;
        this.observer.read?.(admissionState(signal, this.config));
      } finally {
        this.#refresh = null;
      }
    })();
  }
}

/** How old a reading may be and still be used while the next is read. */
function staleLimitMs(config: AdmissionConfig): number {
  return Math.max(1_000, 5 * config.refreshMs);
}
