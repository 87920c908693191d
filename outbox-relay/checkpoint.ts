/**
 * The relay's checkpoint: the WAL position up to which events are in Kafka.
 * It is written INSIDE each Kafka transaction, with the events, to a
 * compacted topic; so "events published" and "checkpoint moved" happen
 * together or not at all. Postgres is told about the position only after the
 * Kafka commit; after a crash in between, Postgres re-sends transactions the
 * checkpoint already covers, and the relay skips them.
 *
 * @module
 */
import {
  Consumer,
  type KafkaJs,
  type OutgoingMessage,
  RELAY_CHECKPOINT_TOPIC,
  type TransactionalProducer,
  valueText,
} from "../kafka/mod.ts";
import { formatLsn, parseLsn } from "./lsn.ts";

export class CheckpointStore {
  #kafka: KafkaJs;
  #slot: string;

  constructor(kafka: KafkaJs, slotName: string) {
    this.#kafka = kafka;
    this.#slot = slotName;
  }

  /** The record that moves the checkpoint to `lsn`; goes into the events' transaction. */
  record(lsn: bigint, instanceId: string): OutgoingMessage {
    return {
      key: this.#slot,
      value: JSON.stringify({ lsn: formatLsn(lsn), by: instanceId, at: new Date().toISOString() }),
    };
  }

  /**
   * Reads the last committed checkpoint of our slot, or null if there is none.
   *
   * A read_committed reader cannot tell "caught up" from "more to come"
   * (transaction markers take offsets too), so this first commits a probe
   * record through `producer`, then reads until it sees that probe: every
   * checkpoint committed before it has been read by then. Committing through
   * the producer also initialises its transactional id, which fences any
   * older relay instance and aborts its unfinished transaction first.
   */
  async readLatest(producer: TransactionalProducer, timeoutMs = 30_000): Promise<bigint | null> {
    const probe = crypto.randomUUID();
    await producer.commit([{
      topic: RELAY_CHECKPOINT_TOPIC,
      messages: [{ key: `${this.#slot}:probe`, value: probe }],
    }]);
    const consumer = new Consumer(this.#kafka, {
      groupId: `outbox-relay-checkpoint-reader-${this.#slot}`,
      topics: [RELAY_CHECKPOINT_TOPIC],
      fromBeginning: true,
      maxWaitTimeMs: 50,
    });
    let latest: bigint | null = null;
    let done!: () => void;
    const found = new Promise<void>((resolve) => (done = resolve));
    try {
      // A fresh group id would leave junk groups behind; this one never
      // commits, so it always starts from the beginning.
      await consumer.run((m) => {
        if (m.key === this.#slot) {
          latest = parseLsn(JSON.parse(valueText(m)!).lsn);
        } else if (m.key === `${this.#slot}:probe` && valueText(m) === probe) {
          done();
        }
        return Promise.resolve();
      }, { commit: false });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`checkpoint probe not read back within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      try {
        await Promise.race([found, timeout]);
      } finally {
        clearTimeout(timer);
      }
      return latest;
    } finally {
      await consumer.disconnect();
    }
  }
}
