/**
 * The point service's SQL (schema `points`, reached through the
 * `point_service` role's search_path). Every change of a balance writes a
 * movement in the same statement's transaction, so a balance always equals
 * the sum of its movements.
 *
 * @module
 */
import type { Sql, Tx } from "../../db/mod.ts";
import type { Deduction, DeductionFailure, DeductionState } from "./domain/deduction.ts";

type Db = Sql | Tx;

/** A user's points as the service stores them. */
export interface Balance {
  userId: string;
  balance: number;
  updatedAt: Date;
}

/** One change of a balance. */
export interface Movement {
  delta: number;
  kind: "GRANT" | "DEDUCT" | "RESTORE";
  orderId: string | null;
  at: Date;
}

// bigint columns arrive as strings; points stay far below 2^53.
const num = (v: string | number) => Number(v);

async function move(
  tx: Tx,
  userId: string,
  delta: number,
  kind: Movement["kind"],
  orderId: string | null,
): Promise<void> {
  await tx`
    insert into movements (user_id, delta, kind, order_id)
    values (${userId}, ${delta}, ${kind}, ${orderId})`;
}

/** Adds `amount` to the user's balance (making it if new); the new balance. */
export async function grantPoints(tx: Tx, userId: string, amount: number): Promise<number> {
  const [row] = await tx<{ balance: string }[]>`
    insert into balances (user_id, balance) values (${userId}, ${amount})
    on conflict (user_id) do update
      set balance = balances.balance + excluded.balance, updated_at = now()
    returning balance`;
  await move(tx, userId, amount, "GRANT", null);
  return num(row.balance);
}

export async function findBalance(db: Db, userId: string): Promise<Balance | null> {
  const rows = await db<{ user_id: string; balance: string; updated_at: Date }[]>`
    select user_id, balance, updated_at from balances where user_id = ${userId}`;
  if (rows.length === 0) return null;
  return { userId: rows[0].user_id, balance: num(rows[0].balance), updatedAt: rows[0].updated_at };
}

/** The user's latest movements, newest first. */
export async function recentMovements(db: Db, userId: string, limit: number): Promise<Movement[]> {
  const rows = await db<
    { delta: string; kind: Movement["kind"]; order_id: string | null; created_at: Date }[]
  >`
    select delta, kind, order_id, created_at from movements
    where user_id = ${userId} order by id desc limit ${limit}`;
  return rows.map((r) => ({
    delta: num(r.delta),
    kind: r.kind,
    orderId: r.order_id,
    at: r.created_at,
  }));
}

/** Gives `amount` back to the user; the new balance. */
export async function givePointsBack(
  tx: Tx,
  userId: string,
  amount: number,
  orderId: string,
): Promise<number> {
  const rows = await tx<{ balance: string }[]>`
    update balances set balance = balance + ${amount}, updated_at = now()
    where user_id = ${userId}
    returning balance`;
  if (rows.length !== 1) throw new Error(`cannot give points back to ${userId}: no balance`);
  await move(tx, userId, amount, "RESTORE", orderId);
  return num(rows[0].balance);
}

/** What a first look at a deduction request found and did (claimAndTakePoints). */
export interface PointsAttempt {
  /** The deduction was new: this request recorded it (PENDING) and owns its answer. */
  claimed: boolean;
  /** Claimed and taken: the balance after it (its movement recorded); else null. */
  balance: number | null;
  /** The user has a balance at all (for the reason of a refusal). */
  userKnown: boolean;
}

/**
 * {@link claimDeduction} as PENDING and, only when that recorded it, takes
 * `amount` from the user's balance if it has that much (the guarded update)
 * and records the movement — in ONE statement (issue 16 item 4): a
 * deduction request's first round trip. One already known takes nothing.
 */
export async function claimAndTakePoints(
  tx: Tx,
  d: { orderId: string; userId: string; amount: number },
): Promise<PointsAttempt> {
  const [r] = await tx<{ claimed: boolean; balance: string | null; known: boolean }[]>`
    with claim as (
      insert into deductions (order_id, user_id, amount, state)
      values (${d.orderId}, ${d.userId}, ${d.amount}, 'PENDING')
      on conflict (order_id) do nothing
      returning order_id
    ), take as (
      update balances set balance = balance - ${d.amount}, updated_at = now()
      where user_id = ${d.userId} and balance >= ${d.amount} and exists (select from claim)
      returning balance
    ), moved as (
      insert into movements (user_id, delta, kind, order_id)
      select ${d.userId}, ${-d.amount}, 'DEDUCT', ${d.orderId} from take
    )
    select exists (select from claim) as claimed, (select balance from take) as balance,
           exists (select from balances where user_id = ${d.userId}) as known`;
  return {
    claimed: r.claimed,
    balance: r.balance === null ? null : num(r.balance),
    userKnown: r.known,
  };
}

/**
 * Records the order's deduction in `state` unless it is known already: true
 * when this call created it. The primary key serialises a deduction and a
 * restore of the same order: the second waits for the first to commit.
 */
export async function claimDeduction(
  tx: Tx,
  d: { orderId: string; userId: string; amount: number },
  state: "PENDING" | "CANCELLED",
): Promise<boolean> {
  const rows = await tx`
    insert into deductions (order_id, user_id, amount, state)
    values (${d.orderId}, ${d.userId}, ${d.amount}, ${state})
    on conflict (order_id) do nothing
    returning order_id`;
  return rows.length === 1;
}

interface DeductionRow {
  order_id: string;
  user_id: string;
  amount: string;
  state: DeductionState;
  reason: DeductionFailure | null;
}

function toDeduction(r: DeductionRow): Deduction {
  return {
    orderId: r.order_id,
    userId: r.user_id,
    amount: num(r.amount),
    state: r.state,
    reason: r.reason,
  };
}

/** The order's deduction, locked until the transaction ends; null when unknown. */
export async function lockDeduction(tx: Tx, orderId: string): Promise<Deduction | null> {
  const rows = await tx<DeductionRow[]>`
    select order_id, user_id, amount, state, reason from deductions
    where order_id = ${orderId} for update`;
  return rows.length === 1 ? toDeduction(rows[0]) : null;
}

export async function findDeduction(db: Db, orderId: string): Promise<Deduction | null> {
  const rows = await db<DeductionRow[]>`
    select order_id, user_id, amount, state, reason from deductions where order_id = ${orderId}`;
  return rows.length === 1 ? toDeduction(rows[0]) : null;
}

/**
 * Sets the deduction's state: awaited, a statement of its own; not awaited, a
 * fragment to run with the reply (db/outbox.ts withOutbox), in one statement.
 */
export function setDeductionState(
  tx: Tx,
  orderId: string,
  state: DeductionState,
  reason: DeductionFailure | null = null,
) {
  return tx`
    update deductions set state = ${state}, reason = ${reason}, updated_at = now()
    where order_id = ${orderId}`;
}
