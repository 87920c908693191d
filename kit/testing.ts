/**
 * Test helpers for the inbox consumer, against the real Postgres and Kafka
 * of `./dev`: a throw-away schema with an `applied` table the handlers write
 * to, a topic and its `-dlq` twin made for the test, and a producer that
 * publishes envelopes as the outbox relay does.
 *
 * @module
 */
import { connectAdmin, connectService, type Tx } from "../db/mod.ts";
import {
  Admin,
  dlqTopicOf,
  IdempotentProducer,
  type IncomingMessage,
  type KafkaJs,
} from "../kafka/mod.ts";
import { Collector, testKafka } from "../tests/support/kafka.ts";
import { uniqueName } from "../tests/support/dev.ts";
import type { EventEnvelope } from "./envelope.ts";
import type { Logger } from "./log.ts";

/** The role the consumer under test connects as; its search_path holds `inventory.inbox`. */
const ROLE = "inventory_service";

/** A logger that keeps its lines, so tests stay quiet and can look at them. */
export function memoryLogger(): Logger & { lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const at = (level: string) => (message: string) => void lines.push({ level, message });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A relay-shaped envelope of `type`, with a fresh id unless given. */
export function envelope(
  type: string,
  payload: Record<string, unknown> = {},
  id: string = crypto.randomUUID(),
): EventEnvelope {
  return {
    id,
    type,
    aggregateType: "test",
    aggregateId: "agg-1",
    occurredAt: new Date().toISOString(),
    payload,
  };
}

/** Everything one consumer test needs, made by create() and removed by drop(). */
export class ConsumerFixture {
  readonly id = uniqueName("kit").toLowerCase();
  /**
   * A schema of its own, with `applied (event_id, note, txid)` (txid: the
   * writing transaction's), writable by the service role.
   */
  readonly schema = this.id;
  readonly topic = `${this.id}-events`;
  readonly dlqTopic = dlqTopicOf(this.topic);
  readonly groupId = `${this.id}-group`;
  readonly consumerName = `test.${this.id}`;
  readonly kafka: KafkaJs = testKafka("kit-consumer-tests");
  /** The pool the consumer under test uses: the service role, as in production. */
  readonly sql = connectService(ROLE, { max: 3, applicationName: this.id });
  readonly log = memoryLogger();
  readonly #admin = connectAdmin({ max: 2 });
  readonly #producer = new IdempotentProducer(this.kafka);

  async create(partitions = 1): Promise<this> {
    await this.#admin.begin(async (tx) => {
      await tx`create schema ${tx(this.schema)}`;
      await tx`create table ${tx(this.schema)}.applied (
                 event_id text not null,
                 note text,
                 txid bigint not null default txid_current(),
                 applied_at timestamptz not null default clock_timestamp())`;
      await tx`grant usage on schema ${tx(this.schema)} to ${tx(ROLE)}`;
      await tx`grant select, insert on ${tx(this.schema)}.applied to ${tx(ROLE)}`;
    });
    const admin = new Admin(this.kafka);
    await admin.connect();
    try {
      await admin.createTopic(this.topic, partitions);
      await admin.createTopic(this.dlqTopic, 1);
    } finally {
      await admin.disconnect();
    }
    await this.#producer.connect();
    return this;
  }

  /**
   * Publishes a record to partition 0 (so order is the order of calls): an
   * envelope as the relay sends it, with its headers, or raw text.
   */
  async publish(
    value: EventEnvelope | string,
    headers: Record<string, string> = {},
  ): Promise<void> {
    const relayHeaders: Record<string, string> = typeof value === "string" ? {} : {
      "event-id": value.id,
      "event-type": value.type,
      "source-lsn": "0/16B3748",
    };
    await this.#producer.send({
      topic: this.topic,
      messages: [{
        key: "key-1",
        partition: 0,
        value: typeof value === "string" ? value : JSON.stringify(value),
        headers: { ...relayHeaders, ...headers },
      }],
    });
  }

  /** The handlers' row-writing effect, in the handler's transaction. */
  async apply(tx: Tx, eventId: string, note = ""): Promise<void> {
    await tx`insert into ${tx(this.schema)}.applied (event_id, note) values (${eventId}, ${note})`;
  }

  /** How many times the event's effect was applied (committed). */
  async appliedCount(eventId: string): Promise<number> {
    const [row] = await this.#admin<{ n: number }[]>`
      select count(*)::int as n from ${
      this.#admin(this.schema)
    }.applied where event_id = ${eventId}`;
    return row.n;
  }

  /** In how many transactions the committed effects were applied. */
  async appliedTransactions(): Promise<number> {
    const [row] = await this.#admin<{ n: number }[]>`
      select count(distinct txid)::int as n from ${this.#admin(this.schema)}.applied`;
    return row.n;
  }

  /** Inbox claims the consumer under test made. */
  async claims(): Promise<string[]> {
    const rows = await this.#admin<{ message_id: string }[]>`
      select message_id from inventory.inbox where consumer = ${this.consumerName}`;
    return rows.map((r) => r.message_id);
  }

  /** The group's committed offset on partition 0 ("-1" when none). */
  async committedOffset(): Promise<string> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const [t] = await admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] });
      return t.partitions.find((p) => p.partition === 0)?.offset ?? "-1";
    } finally {
      await admin.disconnect();
    }
  }

  /** Reads the DLQ topic until it holds `count` records (or times out). */
  async deadLetters(count: number, timeoutMs = 30_000): Promise<IncomingMessage[]> {
    const collector = await new Collector(this.kafka, [this.dlqTopic]).start();
    try {
      await collector.until(`${count} dead letters`, (ms) => ms.length >= count, timeoutMs);
      return collector.messages;
    } finally {
      await collector.stop();
    }
  }

  /** High watermark of the DLQ topic: how many dead letters were written. */
  async deadLetterCount(): Promise<number> {
    const admin = new Admin(this.kafka);
    await admin.connect();
    try {
      const ends = await admin.endOffsets(this.dlqTopic);
      return Number([...ends.values()].reduce((a, b) => a + b, 0n));
    } finally {
      await admin.disconnect();
    }
  }

  /** Removes the schema, the inbox claims, the topics; closes every connection. */
  async drop(): Promise<void> {
    await this.#producer.disconnect().catch(() => {});
    await this.sql.end();
    await this.#admin`delete from inventory.inbox where consumer = ${this.consumerName}`;
    await this.#admin`drop schema if exists ${this.#admin(this.schema)} cascade`;
    await this.#admin.end();
    const admin = new Admin(this.kafka);
    await admin.connect();
    await admin.deleteTopics([this.topic, this.dlqTopic]).catch(() => {});
    await admin.disconnect();
  }
}
