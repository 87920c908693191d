/**
 * Test fixture for the coupon service's tests: the participant fixture of
 * tests/support/participant_fixture.ts (a pool logged in as `coupon_service`,
 * order ids, delivery through the inbox, the events sent, clean-up) plus
 * its users' coupons.
 *
 * @module
 */
import type { Sql } from "../../db/mod.ts";
import { ensureMigrated } from "../../db/testing.ts";
import {
  ParticipantFixture,
  type SentEvent,
  uniqueName,
} from "../../tests/support/participant_fixture.ts";
import type { Usage } from "./domain/usage.ts";
import { findCoupon, findUsage, insertCoupon, type StoredCoupon } from "./store.ts";

export { type SentEvent, uniqueName };

export class CouponFixture extends ParticipantFixture {
  #users = new Set<string>();
  #coupons = new Set<string>();

  constructor() {
    super({ name: "coupon", role: "coupon_service", schema: "coupons", records: "usages" });
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

  protected override async cleanUpOwn(admin: Sql): Promise<void> {
    const users = [...this.#users];
    if (users.length > 0) {
      const theirs = await admin<{ id: string }[]>`
        select id from coupons.coupons where user_id in ${admin(users)}`;
      for (const { id } of theirs) this.#coupons.add(id);
    }
    const coupons = [...this.#coupons];
    if (coupons.length > 0) {
      await admin`delete from coupons.usages where coupon_id in ${admin(coupons)}`;
      await admin`delete from coupons.outbox where aggregate_id in ${admin(coupons)}`;
      await admin`delete from coupons.coupons where id in ${admin(coupons)}`;
    }
  }
}

/** A fixture, once the database is migrated; `await using f = await couponFixture()`. */
export async function couponFixture(): Promise<CouponFixture> {
  await ensureMigrated();
  return new CouponFixture();
}
