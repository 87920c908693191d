/**
 * `deno run -A bench/consumer_wake.ts` (issue #16 item 3): how long a
 * consumer takes to start handling a record once its transaction committed.
 *
 * A transactional producer commits one record per Kafka transaction, at a
 * modest rate, round-robin over the partitions of a fresh topic (so every
 * broker leads some); t0 is when `commit()` resolved (the coordinator has
 * the commit; its markers follow). A read_committed {@link Consumer} in a
 * fresh group, built as the services build theirs (batch handler, the
 * services' concurrency), notes t1 when the batch handler receives the
 * record. It prints p50/p90/p99 of t1 − t0 (and of the commit itself) and,
 * last, one JSON line.
 *
 * Knobs: BENCH_WAKE_SAMPLES (300), BENCH_WAKE_RATE (records/s, 20),
 * BENCH_WAKE_PARTITIONS (12), BENCH_WAKE_CONCURRENCY (partitions handled at
 * once, 2 as the order service), BENCH_WAKE_HANDLER_MS (how long each batch
 * takes, as a batch's database transaction would; 0), BENCH_WAKE_MAX_WAIT_MS (the consumer's
 * maxWaitTimeMs; unset: the Consumer's default).
 *
 * @module
 */
import { Admin, Consumer, TransactionalProducer } from "../kafka/mod.ts";
import { envInt } from "../kit/env.ts";
import { testKafka } from "../tests/support/kafka.ts";
import { nowMs, percentile, round, sleep, table } from "./support.ts";

/** What one measurement runs. */
export interface WakeOptions {
  samples: number;
  /** Transactions started per second at most (each waits for the previous). */
  rate: number;
  partitions: number;
  /** Partitions handled at once (Consumer `partitionsConcurrently`). */
  concurrency: number;
  /** How long each batch takes, as a batch's database transaction would. */
  handlerMs: number;
  /** The consumer's maxWaitTimeMs; undefined: the Consumer's default. */
  maxWaitMs?: number;
}

/** The figures, in ms; `received` < `samples` means records never arrived. */
export interface WakeFigures {
  samples: number;
  received: number;
  wake_p50_ms: number;
  wake_p90_ms: number;
  wake_p99_ms: number;
  commit_p50_ms: number;
  commit_p99_ms: number;
}

const log = (s: string) => console.error(`[consumer_wake] ${s}`);

/** Commits records one transaction each and times how soon a consumer's batch handler has them. */
export async function measureConsumerWake(cfg: WakeOptions): Promise<WakeFigures> {
  const run = crypto.randomUUID().slice(0, 8);
  const topic = `bench-consumer-wake-${run}`;
  const kafka = testKafka("bench-consumer-wake");
  const admin = new Admin(kafka);
  await admin.connect();
  await admin.createTopic(topic, cfg.partitions);

  /** Sample id → when its handler saw it. */
  const received = new Map<string, number>();
  const consumer = new Consumer(kafka, {
    groupId: `bench-consumer-wake-${run}`,
    topics: [topic],
    fromBeginning: true,
    partitionsConcurrently: cfg.concurrency,
    maxWaitTimeMs: cfg.maxWaitMs,
  });
  const producer = new TransactionalProducer(kafka, { transactionalId: `bench-wake-${run}` });
  const committed = new Map<string, { begin: number; commit: number }>();
  const send = async (id: string, partition: number) => {
    const begin = nowMs();
    await producer.commit([{ topic, messages: [{ key: id, value: id, partition }] }]);
    committed.set(id, { begin, commit: nowMs() });
  };
  const arrived = async (ms: number) => {
    const end = Date.now() + ms;
    while ([...committed.keys()].some((id) => !received.has(id)) && Date.now() < end) {
      await sleep(20);
    }
  };

  try {
    await consumer.runBatches(async (messages) => {
      const at = nowMs();
      for (const m of messages) {
        const id = new TextDecoder().decode(m.value ?? new Uint8Array());
        if (!received.has(id)) received.set(id, at);
      }
      if (cfg.handlerMs > 0) await sleep(cfg.handlerMs);
      return messages.length;
    });
    log(`topic ${topic}, ${cfg.partitions} partitions; warming up`);
    // Warm-up: every partition once, until the group has them all.
    for (let p = 0; p < cfg.partitions; p++) await send(`warm-${p}`, p);
    await arrived(60_000);
    if ([...committed.keys()].some((id) => !received.has(id))) {
      throw new Error("warm-up records never arrived");
    }
    committed.clear();
    log(`measuring ${cfg.samples} records at ≤ ${cfg.rate}/s`);
    const gap = 1_000 / cfg.rate;
    const start = nowMs();
    for (let i = 0; i < cfg.samples; i++) {
      const due = start + i * gap;
      if (due > nowMs()) await sleep(due - nowMs());
      await send(`s-${i}`, i % cfg.partitions);
    }
    await arrived(10_000);
  } finally {
    await producer.disconnect();
    await consumer.disconnect();
    await admin.deleteTopics([topic]).catch(() => {});
    await admin.disconnect();
  }

  const wake: number[] = [];
  const commit: number[] = [];
  for (const [id, t] of committed) {
    commit.push(t.commit - t.begin);
    const at = received.get(id);
    if (at !== undefined) wake.push(at - t.commit);
  }
  wake.sort((a, b) => a - b);
  commit.sort((a, b) => a - b);
  return {
    samples: committed.size,
    received: wake.length,
    wake_p50_ms: round(percentile(wake, 50)),
    wake_p90_ms: round(percentile(wake, 90)),
    wake_p99_ms: round(percentile(wake, 99)),
    commit_p50_ms: round(percentile(commit, 50)),
    commit_p99_ms: round(percentile(commit, 99)),
  };
}

const TARGET_P50_MS = 10;

if (import.meta.main) {
  const cfg: WakeOptions = {
    samples: envInt("BENCH_WAKE_SAMPLES", 300, 1),
    rate: envInt("BENCH_WAKE_RATE", 20, 1, 1_000),
    partitions: envInt("BENCH_WAKE_PARTITIONS", 12, 1, 256),
    concurrency: envInt("BENCH_WAKE_CONCURRENCY", 2, 1, 256),
    handlerMs: envInt("BENCH_WAKE_HANDLER_MS", 0, 0, 10_000),
    maxWaitMs: Deno.env.get("BENCH_WAKE_MAX_WAIT_MS")
      ? envInt("BENCH_WAKE_MAX_WAIT_MS", 1_000, 0)
      : undefined,
  };
  const f = await measureConsumerWake(cfg);
  console.log(table([
    ["figure", "p50 ms", "p90 ms", "p99 ms"],
    ["commit() resolved → batch handler", f.wake_p50_ms, f.wake_p90_ms, f.wake_p99_ms],
    ["transaction begin → commit() resolved", f.commit_p50_ms, "", f.commit_p99_ms],
  ]));
  console.log(
    `target: wake p50 ≤ ${TARGET_P50_MS} ms — ${
      f.wake_p50_ms <= TARGET_P50_MS ? "met" : "NOT met"
    }; received ${f.received}/${f.samples}`,
  );
  console.log(JSON.stringify({
    ...f,
    rate: cfg.rate,
    partitions: cfg.partitions,
    concurrency: cfg.concurrency,
    handler_ms: cfg.handlerMs,
    max_wait_ms: cfg.maxWaitMs ?? null,
  }));
}
