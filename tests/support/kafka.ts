/**
 * Test helpers around our Kafka layer: a client for the local cluster and a
 * collector that reads a topic until a condition holds.
 *
 * @module
 */
import { infraConfig } from "../../kit/env.ts";
import { Consumer, createKafka, type IncomingMessage, type KafkaJs } from "../../kafka/mod.ts";
import { eventually, uniqueName } from "./dev.ts";

export function testKafka(clientId = "tests"): KafkaJs {
  // Tests kill brokers on purpose: kafkajs' connection errors are expected noise.
  return createKafka({ brokers: infraConfig().kafkaBrokers, clientId, logLevel: "nothing" });
}

/** A read_committed consumer in a fresh group that keeps every message it sees. */
export class Collector {
  readonly messages: IncomingMessage[] = [];
  #consumer: Consumer;

  constructor(kafka: KafkaJs, topics: string[], opts: { readUncommitted?: boolean } = {}) {
    this.#consumer = new Consumer(kafka, {
      groupId: uniqueName("collector"),
      topics,
      fromBeginning: true,
      readUncommitted: opts.readUncommitted,
    });
  }

  async start(): Promise<this> {
    await this.#consumer.run((m) => {
      this.messages.push(m);
      return Promise.resolve();
    });
    return this;
  }

  /** Waits until `done(messages)` is true. */
  async until(
    what: string,
    done: (ms: IncomingMessage[]) => boolean,
    timeoutMs = 60_000,
  ): Promise<void> {
    await eventually(
      what,
      () => Promise.resolve(done(this.messages) ? true : undefined),
      timeoutMs,
    );
  }

  stop(): Promise<void> {
    return this.#consumer.disconnect();
  }
}
