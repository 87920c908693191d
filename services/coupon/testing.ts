/**
 * Test fixture for the coupon service's tests, against the real Postgres of
 * `./dev`: a pool logged in as `coupon_service`, unique ids, delivery of a
 * command the way the consumer loop does it (inbox claim, then the handler,
 * in one transaction), and clean-up of every row the test made.
 *
 * @module
 */
import { claimInbox, connectAdmin, connectService, type Sql, type Tx } from "../../db/mod.ts";
import { ensureMigrated, uniqueName } from "../../db/testing.ts";
import type { Usage } from "./domain/usage.ts";
import { findCoupon, findUsage, insertCoupon, type StoredCoupon } from "./store.ts";

export { uniqueName };

/** An outbox row, as the tests look at it. */
export interface SentEvent {
  eventType: string;
  topic: string;
  key: string;
  payload: Record<string, unknown>;
}

export class CouponFixture {
  readonly sql: Sql;
  /** The inbox consumer name this fixture's deliveries claim under. */
  readonly consumer = uniqueName("coupon_test");
  #users = new Set<string>();
  #coupons = new Set<string>();
  #orders = new Set<string>();

  constructor() {
    this.sql = connectService("coupon_service", { max: 4 });
  }

  /** A user id whose coupons this fixture removes at the end. */
  userId(): string {
    const id = uniqueName("u");
    this.#users.add(id);
    return id;
  }

  /** A coupon id this fixture removes at the end. */
  couponId(): string {
    const id = uniqueName("c");
    this.#coupons.add(id);
    return id;
  }

  /** An order id whose usages this fixture removes at the end. */
  orderId(): string {
    const id = uniqueName("o");
    this.#orders.add(id);
    return id;
  }

  /** A coupon of `userId` worth `discount` (3000 unless told), expiring at `expiresAt`. */
  async coupon(
    userId: string,
    opts: { discount?: number; expiresAt?: Date | null } = {},
  ): Promise<string> {
    const id = this.couponId();
    await insertCoupon(this.sql, {
      id,
      userId,
      discount: opts.discount ?? 3000,
      expiresAt: opts.expiresAt ?? null,
    });
    return id;
  }

  find(couponId: string): Promise<StoredCoupon | null> {
    return findCoupon(this.sql, couponId);
  }

  usage(orderId: string, couponId: string): Promise<Usage | null> {
    return findUsage(this.sql, orderId, couponId);
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
      if (users.length > 0) {
        const theirs = await admin<{ id: string }[]>`
          select id from coupons.coupons where user_id in ${admin(users)}`;
        for (const { id } of theirs) this.#coupons.add(id);
      }
      const coupons = [...this.#coupons];
      if (orders.length > 0) {
        await admin`delete from coupons.usages where order_id in ${admin(orders)}`;
        await admin`delete from coupons.outbox where payload ->> 'orderId' in ${admin(orders)}`;
      }
      await admin`delete from coupons.inbox where consumer = ${this.consumer}`;
      if (coupons.length > 0) {
        await admin`delete from coupons.usages where coupon_id in ${admin(coupons)}`;
        await admin`delete from coupons.outbox where aggregate_id in ${admin(coupons)}`;
        await admin`delete from coupons.coupons where id in ${admin(coupons)}`;
      }
    } finally {
      await admin.end();
    }
  }
}

/** A fixture, once the database is migrated; `await using f = await couponFixture()`. */
export async function couponFixture(): Promise<CouponFixture> {
  await ensureMigrated();
  return new CouponFixture();
}
