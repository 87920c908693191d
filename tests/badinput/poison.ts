/**
 * Poison on the suite's real topics: records that are not JSON, envelopes
 * missing fields, an empty value, and well-formed commands whose payload
 * breaks the contract. Each is published the way a broken producer would —
 * keyed like the topic's real events, so it lands on the partition a real
 * event for that key will follow it on (kafkajs' default partitioner, the
 * relay's too), or on an explicit partition.
 *
 * @module
 */
import { connectAdmin, type Sql } from "../../db/mod.ts";
import { IdempotentProducer, type KafkaJs, type OutgoingMessage } from "../../kafka/mod.ts";

/** A poison record and the dead-letter reason it must get. */
export interface Poison {
  label: string;
  value: string | null;
  /** `dlq-reason` the consumers must give (by consumer name). */
  reason: string;
  /** The event id its envelope has (for the rejected ones). */
  eventId?: string;
}

/** The three kinds every consumer must refuse, plus a contract breach for `type`. */
export function poisonFor(type: string | null, run: string): Poison[] {
  const list: Poison[] = [
    { label: `not json ${run}`, value: `{"broken": ${run}`, reason: "not-json" },
    {
      label: `bad envelope ${run}`,
      value: JSON.stringify({ id: `bad-${run}`, payload: {}, note: run }),
      reason: "bad-envelope",
    },
    { label: `empty ${run}`, value: null, reason: "empty-value" },
  ];
  if (type) {
    const id = crypto.randomUUID();
    list.push({
      label: `rejected ${type} ${run}`,
      value: JSON.stringify({
        id,
        type,
        aggregateType: "badinput",
        aggregateId: run,
        occurredAt: new Date().toISOString(),
        payload: { orderId: `x-${run}`, quantity: -1, amount: "lots", couponId: 7 },
      }),
      reason: "rejected",
      eventId: id,
    });
  }
  return list;
}

/** Publishes `poison` to `topic`, keyed `key` or on `partition`. */
export async function publishPoison(
  kafka: KafkaJs,
  topic: string,
  poison: Poison[],
  where: { key: string } | { partition: number },
): Promise<void> {
  const producer = new IdempotentProducer(kafka);
  await producer.connect();
  try {
    const messages: OutgoingMessage[] = poison.map((p) => ({
      key: "key" in where ? where.key : `poison-${p.label}`,
      value: p.value,
      headers: { badinput: p.label, ...(p.eventId ? { "event-id": p.eventId } : {}) } as Record<
        string,
        string
      >,
      ...("partition" in where ? { partition: where.partition } : {}),
    }));
    await producer.send({ topic, messages });
  } finally {
    await producer.disconnect();
  }
}

/** The stored dead letters of `topic` whose original header `badinput` is one of `labels`. */
export async function deadLettersFor(
  topic: string,
  labels: string[],
): Promise<{ consumer: string; reason: string; status: string; label: string }[]> {
  const sql: Sql = connectAdmin({ max: 1 });
  try {
    return await sql<{ consumer: string; reason: string; status: string; label: string }[]>`
      select consumer, reason, status, headers ->> 'badinput' as label
      from deadletters.dead_letters
      where original_topic = ${topic} and headers ->> 'badinput' in ${sql(labels)}`;
  } finally {
    await sql.end();
  }
}
