/**
 * Test fixture for the dead-letter service's tests, against the real
 * Postgres of `./dev`: a pool logged in as `deadletter_service`, a topic name
 * of its own (its dead letters are removed at the end), DLQ records shaped
 * as kit/dead_letter.ts writes them, and the service's dependencies.
 *
 * @module
 */
import { connectAdmin, connectService, type Sql } from "../../db/mod.ts";
import { ensureMigrated, uniqueName } from "../../db/testing.ts";
import type { IdempotentProducer, IncomingMessage } from "../../kafka/mod.ts";
import { deadLetterOf, type Failure } from "../../kit/dead_letter.ts";
import { memoryLogger } from "../../kit/testing.ts";
import type { DeadLetterDeps } from "./handlers/deps.ts";
import { DeadLetterMetrics } from "./metrics.ts";
import { countDeadLetters } from "./store.ts";

export const RELAY_DLQ = "outbox-relay-dlq";

export class DeadLetterFixture implements AsyncDisposable {
  readonly id = uniqueName("dl").toLowerCase().replaceAll("_", "-");
  /** The original topic of this fixture's dead letters. */
  readonly topic = `${this.id}-events`;
  readonly dlqTopic = `${this.topic}-dlq`;
  readonly sql: Sql = connectService("deadletter_service", { max: 4 });
  readonly log = memoryLogger();
  readonly metrics = new DeadLetterMetrics(() => countDeadLetters(this.sql));
  #offset = 0;
  #tracked: string[] = [];

  static async create(): Promise<DeadLetterFixture> {
    await ensureMigrated();
    return new DeadLetterFixture();
  }

  deps(producer: IdempotentProducer, maxRetries = 5): DeadLetterDeps {
    return {
      sql: this.sql,
      log: this.log,
      metrics: this.metrics,
      producer,
      maxRetries,
      relayDlqTopic: RELAY_DLQ,
    };
  }

  /**
   * A DLQ record as the consumer loop writes it, for an event of this
   * fixture's topic (`eventId` null: poison without an envelope).
   */
  record(opts: {
    eventId?: string | null;
    reason?: string;
    value?: string;
    originalOffset?: number;
    consumer?: string;
    headers?: Record<string, string>;
  } = {}): IncomingMessage {
    const eventId = opts.eventId === undefined ? crypto.randomUUID() : opts.eventId;
    const now = new Date();
    const failure: Failure = {
      reason: opts.reason ?? "handler-failed",
      detail: "the Test handler failed 3 times",
      error: new TypeError("boom"),
      attempts: 3,
      firstFailureAt: now,
      lastFailureAt: now,
    };
    const original: IncomingMessage = {
      topic: this.topic,
      partition: 0,
      offset: String(opts.originalOffset ?? this.#offset++),
      key: "k-1",
      value: new TextEncoder().encode(
        opts.value ?? JSON.stringify({ id: eventId, type: "Test", payload: {} }),
      ),
      headers: {
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ...opts.headers,
      },
      timestamp: now.getTime(),
    };
    const letter = deadLetterOf(
      original,
      failure,
      { consumer: opts.consumer ?? "test-consumer", groupId: "test-group" },
      eventId === null ? undefined : {
        id: eventId,
        type: "Test",
        aggregateType: "t",
        aggregateId: "a",
        occurredAt: now.toISOString(),
        payload: {},
      },
    );
    return {
      topic: this.dlqTopic,
      partition: 0,
      offset: String(this.#offset++ + 1_000_000),
      key: letter.key,
      value: original.value,
      headers: letter.headers ?? {},
      timestamp: now.getTime(),
    };
  }

  /** Removes the dead letters read from `dlqTopic` too at the end. */
  track(dlqTopic: string): this {
    this.#tracked.push(dlqTopic);
    return this;
  }

  /** The stored dead letters of this fixture's topic. */
  async rows(): Promise<{ id: string; status: string; failures: number; replays: number }[]> {
    return await this.sql`
      select id::text, status, failures, replays from dead_letters
      where original_topic = ${this.topic} or dlq_topic = ${this.dlqTopic} order by id`;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.sql.end();
    const admin = connectAdmin({ max: 1 });
    try {
      await admin`delete from deadletters.dead_letters
                  where original_topic = ${this.topic}
                     or dlq_topic in ${admin([this.dlqTopic, ...this.#tracked])}`;
    } finally {
      await admin.end();
    }
  }
}
