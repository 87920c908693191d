/**
 * What the test fixtures of the saga participants (inventory, coupon, point)
 * share, against the real Postgres of `./dev`: a pool logged in as the
 * service's role, unique order ids, delivery of a command the way the
 * consumer loop does it (inbox claim, then the handler, in one transaction),
 * the events written for an order, and clean-up of the order's records, its
 * events and the fixture's inbox claims. Each service's fixture extends it
 * with its own rows (products, users, coupons) and removes them in
 * {@link ParticipantFixture.cleanUpOwn}.
 *
 * @module
 */
import {
  claimInbox,
  connectAdmin,
  connectService,
  type ServiceRole,
  type Sql,
  type Tx,
} from "../../db/mod.ts";
import { uniqueName } from "../../db/testing.ts";

export { uniqueName };

/** An outbox row, as the tests look at it. */
export interface SentEvent {
  eventType: string;
  topic: string;
  key: string;
  payload: Record<string, unknown>;
}

/** Where a participant keeps its rows. */
export interface ParticipantTables {
  /** The service's name: its inbox claims are made under a unique `<name>_test…`. */
  name: string;
  /** The role its pool logs in as. */
  role: ServiceRole;
  /** Its schema: `inventory`, `coupons`, `points`. */
  schema: string;
  /** Its table of per-order reservation records: `deductions`, `usages`. */
  records: string;
}

export abstract class ParticipantFixture implements AsyncDisposable {
  readonly sql: Sql;
  /** The inbox consumer name this fixture's deliveries claim under. */
  readonly consumer: string;
  readonly #tables: ParticipantTables;
  #orders = new Set<string>();

  constructor(tables: ParticipantTables) {
    this.#tables = tables;
    this.consumer = uniqueName(`${tables.name}_test`);
    this.sql = connectService(tables.role, { max: 4 });
  }

  /** An order id whose records this fixture removes at the end. */
  orderId(): string {
    const id = uniqueName("o");
    this.#orders.add(id);
    return id;
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

  /** Removes the service's own rows (products, users, coupons), as the admin. */
  protected abstract cleanUpOwn(admin: Sql): Promise<void>;

  async [Symbol.asyncDispose](): Promise<void> {
    const { schema, records } = this.#tables;
    const orders = [...this.#orders];
    await this.sql.end();
    const admin = connectAdmin({ max: 1 });
    try {
      if (orders.length > 0) {
        await admin`delete from ${admin(`${schema}.${records}`)} where order_id in ${
          admin(orders)
        }`;
        await admin`delete from ${admin(`${schema}.outbox`)}
          where payload ->> 'orderId' in ${admin(orders)}`;
      }
      await admin`delete from ${admin(`${schema}.inbox`)} where consumer = ${this.consumer}`;
      await this.cleanUpOwn(admin);
    } finally {
      await admin.end();
    }
  }
}
