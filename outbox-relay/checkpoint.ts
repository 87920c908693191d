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
  type TransactionalSender,
  valueText,
} from "../kafka/mod.ts";
import { formatLsn, parseLsn } from "./lsn.ts";

/** A committed checkpoint as read back. */
export interface Checkpoint {
  lsn: bigint;
  /**
   * The newest Postgres commit time among the transactions it covers: a
   * transaction at or below `lsn` that committed later cannot be covered
   * (slot_loss.ts). Null in records of relays from before issue 15.
   */
  commitTime: Date | null;
  /**
   * True when written by a relay that never confirms the slot past its
   * checkpoint, so that a slot ahead of it was made by someone else
   * (slot_loss.ts). False in records of relays from before issue 15.
   */
  slotBounded: boolean;
}

/** What one checkpoint record says (JSON, keyed by the slot name). */
interface CheckpointRecord {
  lsn: string;
  by: string;
  at: string;
  commitTime?: string | null;
  slotBounded?: boolean;
}

export class CheckpointStore {
  #kafka: KafkaJs;
  #slot: string;

  constructor(kafka: KafkaJs, slotName: string) {
    this.#kafka = kafka;
    this.#slot = slotName;
  }

  /** The record that moves the checkpoint; goes into the events' transaction. */
  record(cp: { lsn: bigint; commitTime: Date | null }, instanceId: string): OutgoingMessage {
    const value: CheckpointRecord = {
      lsn: formatLsn(cp.lsn),
      by: instanceId,
      at: new Date().toISOString(),
      commitTime: cp.commitTime?.toISOString() ?? null,
      slotBounded: true,
    };
    return { key: this.#slot, value: JSON.stringify(value) };
  }

  /** Commits a checkpoint alone (an operator's new baseline, rebaseline.ts). */
  async write(
    producer: TransactionalSender,
    cp: { lsn: bigint; commitTime: Date | null },
    by: string,
  ): Promise<void> {
    await producer.commit([{ topic: RELAY_CHECKPOINT_TOPIC, messages: [this.record(cp, by)] }]);
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
  async readLatest(
    producer: TransactionalSender,
    timeoutMs = 30_000,
  ): Promise<Checkpoint | null> {
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
      // Small fetches: the topic holds thousands of offsets; 1 MiB responses
      // (kafkajs' default) took the relay from 54 to 88 MB RSS before its
      // first event, 64 KiB ones to 74 MB, in no more time (issue #16).
      maxBytesPerPartition: 64 * 1024,
    });
    let latest: Checkpoint | null = null;
    let done!: () => void;
    const found = new Promise<void>((resolve) => (done = resolve));
    try {
      // A fresh group id would leave junk groups behind; this one never
      // commits, so it always starts from the beginning.
      await consumer.run((m) => {
        if (m.key === this.#slot) {
          latest = parseCheckpoint(valueText(m)!);
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

function parseCheckpoint(text: string): Checkpoint {
  const r = JSON.parse(text) as CheckpointRecord;
  return {
    lsn: parseLsn(r.lsn),
    commitTime: r.commitTime ? new Date(r.commitTime) : null,
    slotBounded: r.slotBounded === true,
  };
}
