/**
 * Kafka's side of a chaos run: every outbox event of the run is in its topic
 * exactly once for a read_committed reader, and no dead letter appeared that
 * the run cannot explain. Reads start at the offsets taken when the run
 * began (the reader seeks there), so earlier history is skipped.
 *
 * @module
 */
import {
  Admin,
  Consumer,
  createKafka,
  EVENT_TOPICS,
  type IncomingMessage,
  type KafkaJs,
  RELAY_DLQ_TOPIC,
} from "../kafka/mod.ts";
import { infraConfig } from "../kit/env.ts";
import { sleep, uniqueName } from "../tests/support/dev.ts";
import type { RunEvent } from "./checks.ts";

export type Offsets = Map<string, Map<number, bigint>>;

function kafka(clientId: string): KafkaJs {
  return createKafka({ brokers: infraConfig().kafkaBrokers, clientId, logLevel: "nothing" });
}

/** The topics audited: the event topics, every `*-dlq`, the relay's DLQ. */
export async function auditedTopics(): Promise<{ events: string[]; dlqs: string[] }> {
  const admin = new Admin(kafka("chaos-audit"));
  await admin.connect();
  try {
    const all = await admin.listTopics();
    return {
      events: EVENT_TOPICS.map((t) => t.name).filter((t) => all.includes(t)),
      dlqs: all.filter((t) => t.endsWith("-dlq") || t === RELAY_DLQ_TOPIC).sort(),
    };
  } finally {
    await admin.disconnect();
  }
}

/** End offsets of `topics` now: where the audit starts reading. */
export async function endOffsets(topics: string[]): Promise<Offsets> {
  const admin = new Admin(kafka("chaos-audit"));
  await admin.connect();
  try {
    const out: Offsets = new Map();
    for (const t of topics) out.set(t, await admin.endOffsets(t));
    return out;
  } finally {
    await admin.disconnect();
  }
}

export interface DeadLetter {
  topic: string;
  reason: string;
  eventId: string;
  eventType: string;
  consumer: string;
  error: string;
}

export interface AuditResult {
  violations: string[];
  /** Run events found in Kafka (each once when clean). */
  published: number;
  deadLetters: DeadLetter[];
}

/**
 * Reads every audited topic from `start` until each of `expected` was seen
 * (or `timeoutMs`), then a little longer for late duplicates, and compares.
 * `explain` says why a dead letter is expected (undefined: a violation).
 */
export async function auditKafka(
  start: Offsets,
  expected: RunEvent[],
  timeoutMs: number,
  explain: (d: DeadLetter) => string | undefined = () => undefined,
): Promise<AuditResult> {
  const seen: IncomingMessage[] = [];
  const consumer = new Consumer(kafka("chaos-audit"), {
    groupId: uniqueName("chaos-audit"),
    topics: [...start.keys()],
    fromBeginning: true,
  });
  const want = new Set(expected.map((e) => e.event_id));
  const found = new Set<string>();
  await consumer.run((m) => {
    // Before the seeks below apply, a first batch may come from the beginning.
    if (BigInt(m.offset) < (start.get(m.topic)?.get(m.partition) ?? 0n)) return Promise.resolve();
    seen.push(m);
    const id = m.headers["event-id"];
    if (id && want.has(id) && !m.topic.endsWith("-dlq")) found.add(id);
    return Promise.resolve();
  }, { commit: false });
  try {
    for (const [topic, offsets] of start) {
      for (const [partition, offset] of offsets) consumer.seek(topic, partition, offset);
    }
    const until = Date.now() + timeoutMs;
    while (found.size < want.size && Date.now() < until) await sleep(500);
    await sleep(3_000); // a duplicate or a dead letter written late shows up now
  } finally {
    await consumer.disconnect();
  }

  const violations: string[] = [];
  // Each message once (by position), then each event id once (by content).
  const byPosition = new Map(seen.map((m) => [`${m.topic}/${m.partition}@${m.offset}`, m]));
  const events = [...byPosition.values()].filter((m) => !m.topic.endsWith("-dlq"));
  const copies = new Map<string, IncomingMessage[]>();
  for (const m of events) {
    const id = m.headers["event-id"];
    if (!id || !want.has(id)) continue;
    copies.set(id, [...copies.get(id) ?? [], m]);
  }
  const twice = [...copies].filter(([, ms]) => ms.length > 1);
  if (twice.length) {
    const [id, ms] = twice[0];
    violations.push(
      `${twice.length} events in Kafka more than once, e.g. ${id} at ${
        ms.map((m) => `${m.topic}/${m.partition}@${m.offset}`).join(", ")
      }`,
    );
  }
  const missing = expected.filter((e) => !copies.has(e.event_id));
  if (missing.length) {
    violations.push(
      `${missing.length} outbox events never reached Kafka, e.g. ${missing[0].event_type} ${
        missing[0].event_id
      }`,
    );
  }
  const topicOf = new Map(expected.map((e) => [e.event_id, e.topic]));
  const misplaced = [...copies].filter(([id, ms]) => ms.some((m) => m.topic !== topicOf.get(id)));
  if (misplaced.length) violations.push(`${misplaced.length} events on the wrong topic`);

  const deadLetters: DeadLetter[] = [...byPosition.values()]
    .filter((m) => m.topic.endsWith("-dlq"))
    .map((m) => ({
      topic: m.topic,
      reason: m.headers["dlq-reason"] ?? m.headers["reason"] ?? "?",
      eventId: m.headers["event-id"] ?? "",
      eventType: m.headers["event-type"] ?? "",
      consumer: m.headers["consumer"] ?? "",
      error: (m.headers["error-message"] ?? "").slice(0, 200),
    }));
  const unexplained = deadLetters.filter((d) => explain(d) === undefined);
  if (unexplained.length) {
    const d = unexplained[0];
    violations.push(
      `${unexplained.length} unexplained dead letters, e.g. ${d.topic}: ${d.reason} ${d.eventType} ${d.eventId} (${d.consumer}: ${d.error})`,
    );
  }
  return { violations, published: copies.size, deadLetters };
}
