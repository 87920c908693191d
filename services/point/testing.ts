/**
 * Test fixture for the point service's tests, against the real Postgres of
 * `./dev`: a pool logged in as `point_service`, unique ids, delivery of a
 * command the way the consumer loop does it (inbox claim, then the handler,
 * in one transaction), and clean-up of every row the test made.
 *
 * @module
 */
import { claimInbox, connectAdmin, connectService, type Sql, type Tx } from "../../db/mod.ts";
import { ensureMigrated, uniqueName } from "../../db/testing.ts";
import type { Deduction } from "./domain/deduction.ts";
import { findDeduction, grantPoints } from "./store.ts";

export { uniqueName };

/** An outbox row, as the tests look at it. */
export interface SentEvent {
  eventType: string;
  topic: string;
  key: string;
  payload: Record<string, unknown>;
}

export class PointFixture {
  readonly sql: Sql;
  /** The inbox consumer name this fixture's deliveries claim under. */
  readonly consumer = uniqueName("point_test");
  #users = new Set<string>();
  #orders = new Set<string>();

  constructor() {
    this.sql = connectService("point_service", { max: 4 });
  }

  /** A user id this fixture removes at the end. */
  userId(): string {
    const id = uniqueName("u");
    this.#users.add(id);
    return id;
  }

  /** An order id whose records this fixture removes at the end. */
  orderId(): string {
    const id = uniqueName("o");
    this.#orders.add(id);
    return id;
  }

  /** A user granted `points` (a grant of 0 makes no user: see {@link userId}). */
  async user(points: number): Promise<string> {
    const id = this.userId();
    await this.sql.begin((tx) => grantPoints(tx, id, points));
    return id;
  }

  async balanceOf(userId: string): Promise<number | null> {
    const rows = await this.sql<{ balance: string }[]>`
      select balance from balances where user_id = ${userId}`;
    return rows.length === 1 ? Number(rows[0].balance) : null;
  }

  /** The sum of the user's movements: always equals the balance. */
  async movementsOf(userId: string): Promise<number> {
    const [row] = await this.sql<{ total: string }[]>`
      select coalesce(sum(delta), 0) as total from movements where user_id = ${userId}`;
    return Number(row.total);
  }

  deduction(orderId: string): Promise<Deduction | null> {
    return findDeduction(this.sql, orderId);
  }

  /**
   * Runs `handler` as the consumer loop would for event `eventId`: claim the
   * inbox, then handle, in one transaction. Undefined for a duplicate.
   */
  deliver<T>(
    handler: (tx: Tx, payload: unknown) => Promise<T>,
    payload: unknown,
    eventId: string = crypto.randomUUID(),
  ): Promise<T | undefined> {
    return this.sql.begin(async (tx) => {
      if (!await claimInbox(tx, this.consumer, eventId)) return undefined;
      return await handler(tx, payload);
    }) as Promise<T | undefined>;
  }

  /** The events written for `orderId`, oldest first. */
  async sent(orderId: string): Promise<SentEvent[]> {
    const rows = await this.sql<
      { event_type: string; topic: string; key: string; payload: Record<string, unknown> }[]
    >`
      select event_type, topic, key, payload from outbox
      where payload ->> 'orderId' = ${orderId}
      order by created_at`;
    return rows.map((r) => ({
      eventType: r.event_type,
      topic: r.topic,
      key: r.key,
      payload: r.payload,
    }));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const orders = [...this.#orders];
    const users = [...this.#users];
    await this.sql.end();
    const admin = connectAdmin({ max: 1 });
    try {
      if (orders.length > 0) {
        await admin`delete from points.deductions where order_id in ${admin(orders)}`;
        await admin`delete from points.outbox where payload ->> 'orderId' in ${admin(orders)}`;
      }
      await admin`delete from points.inbox where consumer = ${this.consumer}`;
      if (users.length > 0) {
        await admin`delete from points.deductions where user_id in ${admin(users)}`;
        await admin`delete from points.outbox where aggregate_id in ${admin(users)}`;
        await admin`delete from points.movements where user_id in ${admin(users)}`;
        await admin`delete from points.balances where user_id in ${admin(users)}`;
      }
    } finally {
      await admin.end();
    }
  }
}

/** A fixture, once the database is migrated; `await using f = await pointFixture()`. */
export async function pointFixture(): Promise<PointFixture> {
  await ensureMigrated();
  return new PointFixture();
}
