/**
 * Test fixture for the point service's tests: the participant fixture of
 * tests/support/participant_fixture.ts (a pool logged in as `point_service`,
 * order ids, delivery through the inbox, the events sent, clean-up) plus
 * its users, balances and movements.
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
import type { Deduction } from "./domain/deduction.ts";
import { findDeduction, grantPoints } from "./store.ts";

export { type SentEvent, uniqueName };

export class PointFixture extends ParticipantFixture {
  #users = new Set<string>();

  constructor() {
    super({ name: "point", role: "point_service", schema: "points", records: "deductions" });
  }

  /** A user id this fixture removes at the end. */
  userId(): string {
    const id = uniqueName("u");
    this.#users.add(id);
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

  protected override async cleanUpOwn(admin: Sql): Promise<void> {
    const users = [...this.#users];
    if (users.length > 0) {
      await admin`delete from points.deductions where user_id in ${admin(users)}`;
      await admin`delete from points.outbox where aggregate_id in ${admin(users)}`;
      await admin`delete from points.movements where user_id in ${admin(users)}`;
      await admin`delete from points.balances where user_id in ${admin(users)}`;
    }
  }
}

/** A fixture, once the database is migrated; `await using f = await pointFixture()`. */
export async function pointFixture(): Promise<PointFixture> {
  await ensureMigrated();
  return new PointFixture();
}
