/**
 * The reservation state machine every saga participant shares, with no I/O:
 * one record per thing an order reserves (a stock line, an order's points, a
 * coupon use), and what a repeated request and a restore do to it. Each
 * service names its own "taken" state (`DEDUCTED`, `USED`), its own failure
 * reasons and its own error class; the transitions are the same.
 *
 * ```
 *  request first:  PENDING ─┬→ <taken> ──restore──→ RESTORED
 *                           └→ FAILED (the service's reasons)
 *  restore first:  CANCELLED   (tombstone: the late request is refused)
 * ```
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reservationRules } from "./reservation.ts";
 *
 * const rules = reservationRules({ taken: "USED", noun: "usage", stateError: Error });
 * assert.deepEqual(rules.planRestore({ state: "USED", reason: null }), { kind: "give_back" });
 * assert.deepEqual(rules.answerForKnown({ state: "CANCELLED", reason: null }), {
 *   taken: false,
 *   reason: "order_cancelled",
 * });
 * ```
 *
 * @module
 */

/** Where a reservation is; PENDING exists only inside the transaction that decides it. */
export type ReservationState<Taken extends string> =
  | "PENDING"
  | Taken
  | "FAILED"
  | "RESTORED"
  | "CANCELLED";

/** The part of a service's record the state machine reads. */
export interface ReservationRecord<Taken extends string, Reason extends string> {
  state: ReservationState<Taken>;
  reason: Reason | null;
}

/** The answer to a request for a record already known, in the machine's terms. */
export type KnownAnswer<Reason extends string> =
  | { taken: true }
  | { taken: false; reason: Reason | "order_cancelled" };

/** What a restore request does, in the machine's terms. */
export type RestoreStep =
  /** The record was never seen: write a CANCELLED tombstone, so the late request is refused. */
  | { kind: "tombstone" }
  /** The reservation holds: give it back and mark the record RESTORED. */
  | { kind: "give_back" }
  /** Nothing to do (refused, already restored, or already a tombstone). */
  | { kind: "nothing"; wasTaken: boolean };

/** How one service names the machine's parts. */
export interface ReservationNames<Taken extends string> {
  /** The state a successful request settles in: `"DEDUCTED"`, `"USED"`. */
  taken: Taken;
  /** What a record is called in error messages: `"line"`, `"deduction"`, `"usage"`. */
  noun: string;
  /** The service's error for a state the rules never leave a record in. */
  stateError: new (message: string) => Error;
}

/** The machine's rules, bound to one service's names. */
export interface ReservationRules<Taken extends string> {
  /** The state a record settles in after its first attempt. */
  settledState<Reason extends string>(
    outcome: { taken: true } | { taken: false; reason: Reason },
  ): { state: Taken | "FAILED"; reason: Reason | null };
  /**
   * The answer to a request for a record already known: the first answer
   * again for a repeated request; `order_cancelled` when a restore came
   * first or already undid it. Nothing changes either way.
   */
  answerForKnown<Reason extends string>(
    record: ReservationRecord<Taken, Reason>,
  ): KnownAnswer<Reason>;
  /** Only a taken reservation is given back, once; a second restore changes nothing. */
  planRestore<Reason extends string>(record: ReservationRecord<Taken, Reason> | null): RestoreStep;
}

/** The reservation rules under one service's names. */
export function reservationRules<Taken extends string>(
  names: ReservationNames<Taken>,
): ReservationRules<Taken> {
  const { taken, noun, stateError } = names;
  const pending = () => new stateError(`a PENDING ${noun} outside its transaction`);
  return {
    settledState(outcome) {
      return outcome.taken
        ? { state: taken, reason: null }
        : { state: "FAILED", reason: outcome.reason };
    },
    answerForKnown(record) {
      switch (record.state) {
        case taken:
          return { taken: true };
        case "FAILED":
          if (record.reason === null) throw new stateError(`a FAILED ${noun} without a reason`);
          return { taken: false, reason: record.reason };
        case "RESTORED":
        case "CANCELLED":
          return { taken: false, reason: "order_cancelled" };
        case "PENDING":
          throw pending();
      }
      throw new stateError(`a ${noun} in an unknown state ${record.state}`);
    },
    planRestore(record) {
      if (record === null) return { kind: "tombstone" };
      switch (record.state) {
        case taken:
          return { kind: "give_back" };
        case "RESTORED":
          return { kind: "nothing", wasTaken: true };
        case "FAILED":
        case "CANCELLED":
          return { kind: "nothing", wasTaken: false };
        case "PENDING":
          throw pending();
      }
      throw new stateError(`a ${noun} in an unknown state ${record.state}`);
    },
  };
}
