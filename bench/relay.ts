/**
 * `deno task bench:relay` (run it as `./dev deno task bench:relay`): issue
 * #4's benchmark of the outbox relay. It runs the REAL relay process
 * (outbox-relay/main.ts, spawned like the tests' RelayProcess) on an isolated
 * TestOutbox (own schema, publication, slot and topic) and measures:
 *
 *  1. raw Kafka baseline: the same records (built by the relay's own
 *     `toRecord`) sent by our TransactionalProducer in transactions of the
 *     relay's batch size (plus one "checkpoint" record per transaction, as the
 *     relay writes), and by our IdempotentProducer in sendBatch calls of the
 *     same size; acks=all for both, no Postgres, no relay;
 *  2. backlog drain: with no relay running, writers insert BENCH_BACKLOG
 *     events; then the relay starts and its drain rate is read from its
 *     /metrics counter `relay_events_published_total` between the first and
 *     the last published event (→ `events_per_s`);
 *  3. concurrent: writers insert as fast as they can while the relay runs;
 *  4. latency: writers commit at a fixed BENCH_RATE events/s for
 *     BENCH_SECONDS; per event, client-side COMMIT time → receipt by a
 *     read_committed consumer (after a warm-up that is dropped);
 *  5. the relay's peak RSS over its whole life, start-up (the checkpoint
 *     topic's read) included: VmHWM of the relay process, read just before
 *     it stops (→ `rss_mb`);
 *  6. the Kafka requests the relay process sends per Kafka transaction
 *     (→ `kafka_requests_per_tx`, at the latency phase's fixed load): the
 *     relay runs with `--preload bench/kafka_requests.ts`, which counts
 *     every request kafkajs queues, by API, on the relay's /metrics.
 *
 * The last line printed is one JSON object with every figure. Everything
 * it creates (schema, publication, slot, topics) is removed at the end, also
 * on failure or Ctrl-C. Settings (environment, defaults in `cfg` below):
 * BENCH_BACKLOG, BENCH_WRITERS, BENCH_TX_ROWS, BENCH_CONCURRENT, BENCH_RATE,
 * BENCH_SECONDS, BENCH_WARMUP_SECONDS, BENCH_LATENCY_TX_ROWS, BENCH_RAW,
 * BENCH_RAW_BATCH, BENCH_RAW_RETRY_MS, BENCH_PARTITIONS, BENCH_PAYLOAD_BYTES,
 * BENCH_KEYS, BENCH_CONSUMER_MAX_WAIT_MS, BENCH_LATENCY_CONNECTIONS,
 * BENCH_CPU_PROF (1: profile the relay with --cpu-prof and print its hot
 * spots), BENCH_CPU_PROF_DIR, BENCH_RELAY_DENO_FLAGS (extra `deno run` flags
 * for the relay, e.g. `--v8-flags=--max-old-space-size=64`). RELAY_*
 * variables (RELAY_LINGER_MS, RELAY_MAX_BATCH_EVENTS, …) reach the relay.
 *
 * @module
 */
import type postgres from "postgres";
import {
  Admin,
  Consumer,
  IdempotentProducer,
  type OutgoingMessage,
  RELAY_CHECKPOINT_TOPIC,
  TransactionalProducer,
} from "../kafka/mod.ts";
import { envBool, envInt, envString } from "../kit/env.ts";
import { toRecord } from "../outbox-relay/messages.ts";
import { uniqueName } from "../tests/support/dev.ts";
import { testKafka } from "../tests/support/kafka.ts";
import { adminSql, RelayProcess, TestOutbox } from "../tests/support/relay.ts";
import {
  cpuCount,
  formatCpuProfile,
  hostCpu,
  nowMs,
  percentile,
  processCpuSeconds,
  processMemoryMb,
  round,
  scrape,
  sleep,
  table,
} from "./support.ts";

const backlog = envInt("BENCH_BACKLOG", 50_000, 1);
const relayBatch = envInt("RELAY_MAX_BATCH_EVENTS", 2_000, 1);
const cfg = {
  backlog,
  writers: envInt("BENCH_WRITERS", 4, 1, 64),
  txRows: envInt("BENCH_TX_ROWS", 100, 1),
  concurrent: envInt("BENCH_CONCURRENT", 20_000, 0),
  rate: envInt("BENCH_RATE", 1_000, 1),
  seconds: envInt("BENCH_SECONDS", 20, 0),
  warmupSeconds: envInt("BENCH_WARMUP_SECONDS", 3, 0),
  latencyTxRows: envInt("BENCH_LATENCY_TX_ROWS", 10, 1),
  latencyConnections: envInt("BENCH_LATENCY_CONNECTIONS", 8, 1, 64),
  raw: envInt("BENCH_RAW", backlog, 0),
  rawBatch: envInt("BENCH_RAW_BATCH", relayBatch, 1),
  rawRetryMs: envInt("BENCH_RAW_RETRY_MS", 20, 0),
  partitions: envInt("BENCH_PARTITIONS", 16, 1),
  payloadBytes: envInt("BENCH_PAYLOAD_BYTES", 200, 50),
  keys: envInt("BENCH_KEYS", 1_000, 1),
  consumerMaxWaitMs: envInt("BENCH_CONSUMER_MAX_WAIT_MS", 500, 0),
  cpuProf: envBool("BENCH_CPU_PROF", false),
  cpuProfDir: envString("BENCH_CPU_PROF_DIR", ""),
  /** Extra flags for the relay's `deno run`, space-separated (e.g. --v8-flags=…). */
  relayDenoFlags: envString("BENCH_RELAY_DENO_FLAGS", "").split(" ").filter(Boolean),
  relayLingerMs: envInt("RELAY_LINGER_MS", 0, 0),
  relayBatch,
};

/** Issue #16's targets (2 cores, everything on one box); `ratio_vs_raw` is reported, untargeted. */
const TARGETS = {
  p50_ms: 25,
  p99_ms: 60,
  events_per_s: 15_000,
  kafka_requests_per_tx: 8,
  rss_mb: 150,
  exactly_once: true,
};

/** Counts the relay's Kafka requests (`kafka_client_requests_total{api}` on its /metrics). */
const REQUEST_COUNTER = new URL("./kafka_requests.ts", import.meta.url).pathname;

/** `kafka_client_requests_total` per API from a parsed /metrics. */
function requestsByApi(metrics: Map<string, number> | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of metrics ?? []) {
    const api = /^kafka_client_requests_total\{api="([^"]+)"\}$/.exec(k)?.[1];
    if (api) out.set(api, v);
  }
  return out;
}

// ---------------------------------------------------------------- events

interface BenchRow {
  event_id: string;
  key: string;
  payload: Record<string, unknown>;
}

let seq = 0;
/** Every event committed to the outbox, with the phase that wrote it. */
const written = new Map<string, string>();
/** Rows shaped like an order event, with a payload of about BENCH_PAYLOAD_BYTES. */
function makeRows(n: number, writer: number): BenchRow[] {
  return Array.from({ length: n }, () => {
    const key = `user-${Math.floor(Math.random() * cfg.keys)}`;
    const payload: Record<string, unknown> = {
      orderId: crypto.randomUUID(),
      userId: key,
      writer,
      seq: ++seq,
      amount: 39_000,
      items: [{ sku: "SKU-00042", qty: 2, price: 19_500 }],
    };
    const pad = cfg.payloadBytes - JSON.stringify(payload).length - 10;
    if (pad > 0) payload.note = "x".repeat(pad);
    return { event_id: crypto.randomUUID(), key, payload };
  });
}

/** One transaction (BEGIN; multi-row INSERT; COMMIT); resolves with the time COMMIT returned. */
async function insertTx(sql: postgres.Sql, outbox: TestOutbox, rows: BenchRow[]): Promise<number> {
  await sql.begin((tx) =>
    tx`
      insert into ${tx(outbox.schema)}.outbox
        (event_id, aggregate_type, aggregate_id, event_type, topic, key, payload)
      select r.event_id, 'order', r.key, 'BenchEvent', ${outbox.topic}, r.key, r.payload
      from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb)
        as r(event_id uuid, key text, payload jsonb)`
  );
  return nowMs();
}

/** `writers` connections inserting `total` events in transactions of `txRows`, flat out. */
async function writeFlatOut(
  phase: string,
  outbox: TestOutbox,
  total: number,
  writers: number,
  txRows: number,
): Promise<{ ms: number; transactions: number }> {
  const sql = adminSql(writers);
  let remaining = total;
  let transactions = 0;
  const t0 = nowMs();
  try {
    await Promise.all(Array.from({ length: writers }, async (_, w) => {
      while (remaining > 0) {
        const n = Math.min(txRows, remaining);
        remaining -= n;
        const rows = makeRows(n, w);
        await insertTx(sql, outbox, rows);
        for (const r of rows) written.set(r.event_id, phase);
        transactions++;
      }
    }));
  } finally {
    await sql.end();
  }
  return { ms: nowMs() - t0, transactions };
}

// ---------------------------------------------------------------- consumer

/** A read_committed consumer that notes when each event id arrived. */
class Receiver {
  readonly arrived = new Map<string, { at: number; kafkaTs: number; where: string }>();
  /** The same event at another offset: a duplicate in the log (exactly-once broken). */
  duplicates = 0;
  /** The same offset delivered again (a consumer re-fetch; harmless, not a duplicate). */
  redelivered = 0;
  #consumer: Consumer | null = null;
  #topic: string;

  constructor(topic: string) {
    this.#topic = topic;
  }

  async start(): Promise<this> {
    // A topic just made may not be known to every broker yet (KRaft): try again.
    for (let attempt = 1;; attempt++) {
      this.#consumer = new Consumer(testKafka("bench-receiver"), {
        groupId: uniqueName("bench-receiver"),
        topics: [this.#topic],
        fromBeginning: true,
        maxWaitTimeMs: cfg.consumerMaxWaitMs,
      });
      try {
        await this.#run(this.#consumer);
        return this;
      } catch (err) {
        await this.#consumer.disconnect().catch(() => {});
        if (attempt >= 20) throw err;
        await sleep(500);
      }
    }
  }

  async #run(consumer: Consumer): Promise<void> {
    await consumer.run((m) => {
      const at = nowMs();
      const id = m.headers["event-id"];
      const where = `${m.partition}@${m.offset}`;
      const seen = this.arrived.get(id);
      if (seen === undefined) this.arrived.set(id, { at, kafkaTs: m.timestamp, where });
      else if (seen.where === where) this.redelivered++;
      else this.duplicates++;
      return Promise.resolve();
    }, { commit: false });
  }

  /** Waits until `count` events arrived; returns when the last one did, or null on timeout. */
  async waitForCount(count: number, timeoutMs: number): Promise<number | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.arrived.size < count) {
      if (Date.now() > deadline) return null;
      await sleep(20);
    }
    let last = 0;
    for (const { at } of this.arrived.values()) last = Math.max(last, at);
    return last;
  }

  async stop(): Promise<void> {
    await this.#consumer?.disconnect();
  }
}

/**
 * Reads the whole topic again with a fresh read_committed consumer and
 * compares with what was written: each event once, nothing missing, nothing else.
 */
async function verifyLog(topic: string, quietMs = 3_000, timeoutMs = 60_000) {
  const seen = new Map<string, Set<string>>();
  const consumer = new Consumer(testKafka("bench-verify"), {
    groupId: uniqueName("bench-verify"),
    topics: [topic],
    fromBeginning: true,
  });
  let last = Date.now();
  try {
    await consumer.run((m) => {
      const id = m.headers["event-id"];
      const at = seen.get(id) ?? new Set<string>();
      at.add(`${m.partition}@${m.offset}`);
      seen.set(id, at);
      last = Date.now();
      return Promise.resolve();
    }, { commit: false });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      // Complete and quiet: done. Incomplete: wait up to the timeout (a cold
      // cluster was seen to stall ~17 s while its controllers re-elected).
      if (seen.size >= written.size && Date.now() - last > quietMs) break;
      await sleep(200);
    }
  } finally {
    await consumer.disconnect();
  }
  const missing: Record<string, number> = {};
  for (const [id, phase] of written) {
    if (!seen.has(id)) missing[phase] = (missing[phase] ?? 0) + 1;
  }
  return {
    distinct: seen.size,
    duplicates: [...seen.values()].filter((at) => at.size > 1).length,
    missing,
    unknown: [...seen.keys()].filter((id) => !written.has(id)).length,
  };
}

// ---------------------------------------------------------------- raw baseline

/** The records the relay would make of these rows (its own `toRecord`), for `topic`. */
function relayRecords(rows: BenchRow[], topic: string): OutgoingMessage[] {
  const known = new Set([topic]);
  return rows.map((r, i) => {
    const rec = toRecord(
      {
        schema: "bench",
        eventId: r.event_id,
        aggregateType: "order",
        aggregateId: r.key,
        eventType: "BenchEvent",
        topic,
        key: r.key,
        payload: r.payload,
        headers: {},
        createdAt: new Date(),
      },
      BigInt(0x1000000 + i),
      { knownTopics: known },
    );
    if (!rec.ok) throw new Error(`bench record rejected: ${rec.detail}`);
    return rec.message;
  });
}

interface RawResult {
  events: number;
  ms: number;
  rate: number;
  calls: number;
  retries: number;
}

async function rawTransactional(
  topic: string,
  checkpointTopic: string,
  records: OutgoingMessage[],
  transactionalId: string,
): Promise<RawResult> {
  const producer = new TransactionalProducer(testKafka("bench-raw-tx"), { transactionalId });
  let retries = 0;
  const commit = async (messages: OutgoingMessage[], n: number) => {
    const batches = [
      { topic, messages },
      // The relay adds its checkpoint record to every transaction: so do we.
      { topic: checkpointTopic, messages: [{ key: "bench", value: JSON.stringify({ n }) }] },
    ];
    // Like the relay's #commitWithRetry: a failed transaction is sent again
    // (with a producer whose TransactionRetriableError still exists, that is
    // the CONCURRENT_TRANSACTIONS refusal right after the previous commit).
    for (let attempt = 1;; attempt++) {
      try {
        return await producer.commit(batches);
      } catch (err) {
        if (attempt >= 50) throw err;
        retries++;
        await sleep(cfg.rawRetryMs);
      }
    }
  };
  try {
    // Untimed warm-up: connect, init the id, learn metadata (a topic just
    // made may not be known to every broker yet: the retries above cover it).
    await commit(records.slice(0, 1), -1);
    retries = 0;
    const t0 = nowMs();
    let calls = 0;
    for (let i = 0; i < records.length; i += cfg.rawBatch) {
      await commit(records.slice(i, i + cfg.rawBatch), i);
      calls++;
    }
    const ms = nowMs() - t0;
    return { events: records.length, ms, rate: (records.length / ms) * 1000, calls, retries };
  } finally {
    await producer.disconnect();
  }
}

async function rawIdempotent(topic: string, records: OutgoingMessage[]): Promise<RawResult> {
  const producer = new IdempotentProducer(testKafka("bench-raw-idem"));
  await producer.connect();
  try {
    await producer.send({ topic, messages: records.slice(0, 1) }); // untimed warm-up (kafkajs retries)
    const t0 = nowMs();
    let calls = 0;
    for (let i = 0; i < records.length; i += cfg.rawBatch) {
      await producer.send({ topic, messages: records.slice(i, i + cfg.rawBatch) });
      calls++;
    }
    const ms = nowMs() - t0;
    return { events: records.length, ms, rate: (records.length / ms) * 1000, calls, retries: 0 };
  } finally {
    await producer.disconnect();
  }
}

// ---------------------------------------------------------------- phases

interface Snapshot {
  at: number;
  relayCpu: number | undefined;
  /** VmRSS and VmHWM of the relay, MB. */
  relayMem: { peak: number; now: number } | undefined;
  host: { busy: number; total: number };
  metrics: Map<string, number> | undefined;
}

const metric = (s: Snapshot, name: string) => s.metrics?.get(name) ?? 0;

/** Per-phase figures between two snapshots. */
function between(a: Snapshot, b: Snapshot) {
  const seconds = (b.at - a.at) / 1000;
  const d = (name: string) => metric(b, name) - metric(a, name);
  const count = d("relay_commit_to_publish_seconds_count");
  const before = requestsByApi(a.metrics);
  const byApi = Object.fromEntries(
    [...requestsByApi(b.metrics)].map(([api, n]) => [api, n - (before.get(api) ?? 0)])
      .filter(([, n]) => (n as number) > 0)
      .sort((x, y) => (y[1] as number) - (x[1] as number)),
  ) as Record<string, number>;
  return {
    seconds,
    kafkaRequests: Object.values(byApi).reduce((n, x) => n + x, 0),
    kafkaRequestsByApi: byApi,
    relayCpuPct: a.relayCpu !== undefined && b.relayCpu !== undefined
      ? ((b.relayCpu - a.relayCpu) / seconds) * 100
      : undefined,
    rssMb: b.relayMem?.now,
    hostCpuPct: ((b.host.busy - a.host.busy) / Math.max(1, b.host.total - a.host.total)) * 100,
    published: d("relay_events_published_total"),
    kafkaTx: d("relay_kafka_transactions_total"),
    retries: d("relay_kafka_transaction_retries_total"),
    commitToPublishMeanMs: count > 0
      ? (d("relay_commit_to_publish_seconds_sum") / count) * 1000
      : NaN,
  };
}

/** Polls /metrics until `relay_events_published_total` reaches `target`. */
async function watchPublished(
  relay: RelayProcess,
  target: number,
  timeoutMs: number,
): Promise<{ at: number; n: number; cpu: number; peakMb: number }[]> {
  const samples: { at: number; n: number; cpu: number; peakMb: number }[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const m = await scrape(relay.port);
    const n = m?.get("relay_events_published_total");
    if (n !== undefined) {
      samples.push({
        at: nowMs(),
        n,
        cpu: processCpuSeconds(relay.pid ?? 0) ?? NaN,
        peakMb: processMemoryMb(relay.pid ?? 0)?.peak ?? NaN,
      });
      if (n >= target) return samples;
    }
    await sleep(100);
  }
  const got = samples.at(-1)?.n ?? 0;
  throw new Error(`the relay published ${got} of ${target} events within ${timeoutMs} ms`);
}

function latencyStats(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
    max: s.at(-1) ?? NaN,
    mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length),
  };
}

// ---------------------------------------------------------------- main

const cleanups: (() => Promise<unknown>)[] = [];
/** Its log tail is printed when the bench fails. */
const running: { relay: RelayProcess | null } = { relay: null };
let cleaning: Promise<void> | null = null;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const f of cleanups.reverse()) {
      await f().catch((err) => console.error(`cleanup: ${err?.message ?? err}`));
    }
  })();
  return cleaning;
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, () => {
    console.error(`\n${sig}: cleaning up…`);
    cleanup().finally(() => Deno.exit(130));
  });
}

const log = (line: string) =>
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

async function main(): Promise<void> {
  const started = nowMs();
  const loadavg = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  log(`setting up: ${cfg.partitions}-partition topic, schema, publication, slot`);

  const outbox = new TestOutbox();
  cleanups.push(() => outbox.drop());
  await outbox.create(cfg.partitions);
  const rawTopic = `${outbox.id}-raw`;
  const rawCheckpointTopic = `${outbox.id}-raw-cp`;
  const admin = new Admin(testKafka("bench-admin"));
  await admin.connect();
  cleanups.push(async () => {
    await admin.deleteTopics([rawTopic, rawCheckpointTopic]).catch(() => {});
    await admin.disconnect();
  });
  // The relay reads this whole topic at start-up (checkpoint.ts): its size
  // drives the start-up time and memory.
  const checkpointOffsets = [...(await admin.endOffsets(RELAY_CHECKPOINT_TOPIC)).values()]
    .reduce((a, b) => a + Number(b), 0);
  await admin.createTopic(rawTopic, cfg.partitions);
  await admin.createTopic(rawCheckpointTopic, 1);

  const receiver = new Receiver(outbox.topic);
  cleanups.push(() => receiver.stop());
  await receiver.start();

  // 1. Raw baseline.
  let rawTx: RawResult | null = null;
  let rawIdem: RawResult | null = null;
  if (cfg.raw > 0) {
    const records = relayRecords(makeRows(cfg.raw, 0), rawTopic);
    log(`raw baseline: ${cfg.raw} records, transactions of ${cfg.rawBatch}`);
    const h0 = hostCpu();
    rawTx = await rawTransactional(rawTopic, rawCheckpointTopic, records, `bench-raw-${outbox.id}`);
    const h1 = hostCpu();
    log(`raw baseline: ${cfg.raw} records, idempotent sendBatch of ${cfg.rawBatch}`);
    rawIdem = await rawIdempotent(rawTopic, records);
    const h2 = hostCpu();
    (rawTx as RawResult & { hostCpuPct: number }).hostCpuPct = (h1.busy - h0.busy) /
      (h1.total - h0.total) * 100;
    (rawIdem as RawResult & { hostCpuPct: number }).hostCpuPct = (h2.busy - h1.busy) /
      (h2.total - h1.total) * 100;
  }

  // 2. Backlog, written while no relay runs.
  log(`backlog: ${cfg.backlog} events, ${cfg.writers} writers, transactions of ${cfg.txRows}`);
  const fillHost0 = hostCpu();
  const fill = await writeFlatOut("backlog", outbox, cfg.backlog, cfg.writers, cfg.txRows);
  const fillHost1 = hostCpu();

  let profileDir: string | null = null;
  const flags: string[] = [`--preload=${REQUEST_COUNTER}`, ...cfg.relayDenoFlags];
  if (cfg.cpuProf) {
    profileDir = cfg.cpuProfDir || await Deno.makeTempDir({ prefix: "relay-cpuprof-" });
    await Deno.mkdir(profileDir, { recursive: true });
    flags.push("--cpu-prof", `--cpu-prof-dir=${profileDir}`);
  }
  const relay = new RelayProcess(outbox, `bench-relay-${outbox.id}`, {
    // The production default (the tests' harness uses 500 ms).
    RELAY_HEARTBEAT_MS: Deno.env.get("RELAY_HEARTBEAT_MS") ?? "10000",
    LOG_LEVEL: Deno.env.get("LOG_LEVEL") ?? "warn",
  }, flags);
  cleanups.push(() => relay.stop());
  running.relay = relay;

  const snapshot = async (): Promise<Snapshot> => ({
    at: nowMs(),
    relayCpu: relay.pid ? processCpuSeconds(relay.pid) : undefined,
    relayMem: relay.pid ? processMemoryMb(relay.pid) : undefined,
    host: hostCpu(),
    metrics: await scrape(relay.port),
  });

  log("backlog drain: starting the relay");
  const spawnedAt = nowMs();
  /** Before the relay runs: its counters are all zero. */
  const drainStart: Snapshot = {
    at: spawnedAt,
    relayCpu: undefined,
    relayMem: undefined,
    host: hostCpu(),
    metrics: undefined,
  };
  const drainHost0 = hostCpu();
  relay.start();
  const drainSamples = await watchPublished(relay, cfg.backlog, 120_000);
  const drainHost1 = hostCpu();
  const drainEnd = await snapshot();
  const firstPublished = drainSamples.find((s) => s.n > 0)!;
  const lastSample = drainSamples.at(-1)!;
  const drainSeconds = (lastSample.at - firstPublished.at) / 1000;
  const eventsPerS = drainSeconds > 0
    ? (lastSample.n - firstPublished.n) / drainSeconds
    : lastSample.n / ((lastSample.at - spawnedAt) / 1000);
  const consumerAll = await receiver.waitForCount(cfg.backlog, 60_000);
  let firstArrival = Infinity;
  for (const { at } of receiver.arrived.values()) firstArrival = Math.min(firstArrival, at);
  const drainCpuPct = ((lastSample.cpu - firstPublished.cpu) / drainSeconds) * 100;
  log(`backlog drain: ${round(eventsPerS)} events/s`);

  // 3. Concurrent writers with the relay running.
  let concurrent: (ReturnType<typeof between> & { writerMs: number; rate: number }) | null = null;
  if (cfg.concurrent > 0) {
    log(`concurrent: ${cfg.concurrent} events, ${cfg.writers} writers, relay running`);
    const a = await snapshot();
    const written = await writeFlatOut(
      "concurrent",
      outbox,
      cfg.concurrent,
      cfg.writers,
      cfg.txRows,
    );
    await watchPublished(relay, cfg.backlog + cfg.concurrent, 120_000);
    const b = await snapshot();
    const d = between(a, b);
    concurrent = { ...d, writerMs: written.ms, rate: cfg.concurrent / d.seconds };
    await receiver.waitForCount(cfg.backlog + cfg.concurrent, 60_000);
  }

  // 4. Latency at a fixed offered load.
  let latency: {
    e2e: ReturnType<typeof latencyStats>;
    relaySide: ReturnType<typeof latencyStats>;
    kafkaSide: ReturnType<typeof latencyStats>;
    offered: number;
    achieved: number;
    missing: number;
    lateStarts: number;
    phase: ReturnType<typeof between>;
  } | null = null;
  if (cfg.seconds > 0) {
    const interval = (1000 * cfg.latencyTxRows) / cfg.rate;
    const nTx = Math.round((cfg.seconds * cfg.rate) / cfg.latencyTxRows);
    log(
      `latency: ${cfg.rate} events/s for ${cfg.seconds} s (${
        round(1000 / interval)
      } tx/s of ${cfg.latencyTxRows})`,
    );
    const sql = adminSql(cfg.latencyConnections);
    cleanups.push(() => sql.end());
    // Open the connections before the clock starts.
    await Promise.all(Array.from({ length: cfg.latencyConnections }, () => sql`select 1`));
    const committedAt = new Map<string, number>();
    const inFlight = new Set<Promise<void>>();
    let lateStarts = 0;
    const a = await snapshot();
    const t0 = nowMs() + 20;
    for (let i = 0; i < nTx; i++) {
      const wait = t0 + i * interval - nowMs();
      if (wait > 0) await sleep(wait);
      if (inFlight.size >= cfg.latencyConnections) {
        lateStarts++;
        await Promise.race(inFlight);
      }
      const rows = makeRows(cfg.latencyTxRows, i % cfg.latencyConnections);
      const p: Promise<void> = insertTx(sql, outbox, rows).then((at) => {
        for (const r of rows) {
          committedAt.set(r.event_id, at);
          written.set(r.event_id, "latency");
        }
      }).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
    const writeEnd = nowMs();
    await receiver.waitForCount(cfg.backlog + cfg.concurrent + committedAt.size, 60_000);
    const b = await snapshot();
    const warmEnd = t0 + cfg.warmupSeconds * 1000;
    const e2e: number[] = [];
    const relaySide: number[] = [];
    const kafkaSide: number[] = [];
    let missing = 0;
    for (const [id, at] of committedAt) {
      if (at < warmEnd) continue;
      const got = receiver.arrived.get(id);
      if (!got) {
        missing++;
        continue;
      }
      e2e.push(got.at - at);
      relaySide.push(got.kafkaTs - at);
      kafkaSide.push(got.at - got.kafkaTs);
    }
    latency = {
      e2e: latencyStats(e2e),
      relaySide: latencyStats(relaySide),
      kafkaSide: latencyStats(kafkaSide),
      offered: cfg.rate,
      achieved: (committedAt.size / (writeEnd - t0)) * 1000,
      missing,
      lateStarts,
      phase: between(a, b),
    };
  }

  // 5. Peak memory, then stop the relay (which also writes the CPU profile).
  const mem = relay.pid ? processMemoryMb(relay.pid) : undefined;
  const final = await snapshot();
  await relay.stop();
  let profileText = "";
  if (profileDir) {
    const files = [...Deno.readDirSync(profileDir)].filter((f) => f.name.endsWith(".cpuprofile"));
    profileText = files.length > 0
      ? formatCpuProfile(`${profileDir}/${files.at(-1)!.name}`)
      : `no .cpuprofile written in ${profileDir}`;
  }

  const expected = written.size;
  const liveMissing: Record<string, number> = {};
  for (const [id, phase] of written) {
    if (!receiver.arrived.has(id)) liveMissing[phase] = (liveMissing[phase] ?? 0) + 1;
  }
  log("verifying the topic with a fresh read_committed consumer");
  const check = await verifyLog(outbox.topic);

  // ------------------------------------------------------------ report
  const drainPhase = {
    kafkaTx: metric(drainEnd, "relay_kafka_transactions_total"),
    retries: metric(drainEnd, "relay_kafka_transaction_retries_total"),
  };
  const rawRate = rawTx?.rate ?? NaN;
  const ratio = eventsPerS / rawRate;
  const p = latency?.e2e;
  // VmHWM is the peak of the process's whole life; the drain's samples are a cross-check.
  const rssMb = Math.max(mem?.peak ?? NaN, ...drainSamples.map((s) => s.peakMb));
  // Requests per transaction at the fixed load (else the last phase that ran; the
  // drain's includes the start-up's requests).
  const requestsPhase = latency?.phase ?? concurrent ?? between(drainStart, drainEnd);
  const requestsPerTx = requestsPhase.kafkaRequests / Math.max(1, requestsPhase.kafkaTx);
  const exactlyOnce = check.duplicates === 0 && Object.keys(check.missing).length === 0 &&
    check.unknown === 0 && receiver.duplicates === 0 && Object.keys(liveMissing).length === 0;
  const met = {
    p50_ms: p !== undefined && p.p50 <= TARGETS.p50_ms,
    p99_ms: p !== undefined && p.p99 <= TARGETS.p99_ms,
    events_per_s: eventsPerS >= TARGETS.events_per_s,
    kafka_requests_per_tx: requestsPerTx <= TARGETS.kafka_requests_per_tx,
    rss_mb: rssMb <= TARGETS.rss_mb,
    exactly_once: exactlyOnce,
  };
  const yes = (b: boolean) => (b ? "yes" : "NO");
  const fmt = (n: number | undefined, d = 1) =>
    n === undefined || !Number.isFinite(n) ? "-" : round(n, d).toLocaleString("en-US");

  const out: string[] = [];
  out.push("");
  out.push(
    `Outbox relay benchmark (issues #4, #16): ${cpuCount()} CPUs, load average ${loadavg} at start; ` +
      `${cfg.partitions} partitions, ~${cfg.payloadBytes} B payloads, ${cfg.keys} keys; ` +
      `relay RELAY_MAX_BATCH_EVENTS=${cfg.relayBatch} RELAY_LINGER_MS=${cfg.relayLingerMs}` +
      (cfg.cpuProf ? " (with --cpu-prof)" : ""),
  );
  out.push("");
  out.push(table([
    ["headline", "value", "target", "met"],
    [
      "events_per_s (backlog drain, /metrics)",
      fmt(eventsPerS),
      `>= ${TARGETS.events_per_s}`,
      yes(met.events_per_s),
    ],
    [
      `p50_ms (COMMIT -> consumer at ${cfg.rate}/s)`,
      fmt(p?.p50),
      `<= ${TARGETS.p50_ms}`,
      yes(met.p50_ms),
    ],
    ["p95_ms", fmt(p?.p95), "", ""],
    ["p99_ms", fmt(p?.p99), `<= ${TARGETS.p99_ms}`, yes(met.p99_ms)],
    [
      "kafka_requests_per_tx (relay process, all APIs)",
      fmt(requestsPerTx),
      `<= ${TARGETS.kafka_requests_per_tx}`,
      yes(met.kafka_requests_per_tx),
    ],
    ["rss_mb (relay VmHWM, whole run)", fmt(rssMb), `<= ${TARGETS.rss_mb}`, yes(met.rss_mb)],
    [
      "exactly once (topic re-read, live consumer)",
      exactlyOnce ? "yes" : "NO",
      "yes",
      yes(met.exactly_once),
    ],
    ["raw_events_per_s (TransactionalProducer)", fmt(rawRate), "", ""],
    ["ratio_vs_raw", fmt(ratio, 3), "", ""],
  ]));
  out.push(
    `  Kafka requests of the relay per transaction, by API (${requestsPhase.kafkaTx} ` +
      `transactions): ${
        Object.entries(requestsPhase.kafkaRequestsByApi)
          .map(([api, n]) => `${api} ${fmt(n / Math.max(1, requestsPhase.kafkaTx), 2)}`)
          .join(", ") || "none counted"
      }`,
  );
  out.push("");
  const phaseRows: (string | number)[][] = [[
    "phase",
    "events",
    "seconds",
    "events/s",
    "relay CPU %",
    "relay RSS MB",
    "host CPU %",
    "kafka tx",
    "retries",
    "events/tx",
  ]];
  if (rawTx && rawIdem) {
    for (
      const [name, r] of [
        [`raw TransactionalProducer, tx of ${cfg.rawBatch}`, rawTx],
        [`raw IdempotentProducer, sendBatch of ${cfg.rawBatch}`, rawIdem],
      ] as const
    ) {
      phaseRows.push([
        name,
        r.events,
        fmt(r.ms / 1000, 2),
        fmt(r.rate),
        "-",
        "-",
        fmt((r as RawResult & { hostCpuPct: number }).hostCpuPct),
        r.calls,
        r.retries,
        fmt(r.events / r.calls, 0),
      ]);
    }
  }
  phaseRows.push([
    `backlog fill (${cfg.writers} writers, tx of ${cfg.txRows}, no relay)`,
    cfg.backlog,
    fmt(fill.ms / 1000, 2),
    fmt((cfg.backlog / fill.ms) * 1000),
    "-",
    "-",
    fmt((fillHost1.busy - fillHost0.busy) / (fillHost1.total - fillHost0.total) * 100),
    "-",
    "-",
    "-",
  ]);
  phaseRows.push([
    "backlog drain (relay, first -> last publish)",
    lastSample.n - firstPublished.n,
    fmt(drainSeconds, 2),
    fmt(eventsPerS),
    fmt(drainCpuPct),
    fmt(drainEnd.relayMem?.now, 0),
    fmt((drainHost1.busy - drainHost0.busy) / (drainHost1.total - drainHost0.total) * 100),
    drainPhase.kafkaTx,
    drainPhase.retries,
    fmt(lastSample.n / Math.max(1, drainPhase.kafkaTx), 0),
  ]);
  if (concurrent) {
    phaseRows.push([
      `concurrent (${cfg.writers} writers + relay; writers ${
        fmt((cfg.concurrent / concurrent.writerMs) * 1000, 0)
      }/s)`,
      cfg.concurrent,
      fmt(concurrent.seconds, 2),
      fmt(concurrent.rate),
      fmt(concurrent.relayCpuPct),
      fmt(concurrent.rssMb, 0),
      fmt(concurrent.hostCpuPct),
      concurrent.kafkaTx,
      concurrent.retries,
      fmt(concurrent.published / Math.max(1, concurrent.kafkaTx), 0),
    ]);
  }
  if (latency) {
    const l = latency.phase;
    phaseRows.push([
      `latency (${cfg.rate}/s offered, tx of ${cfg.latencyTxRows})`,
      l.published,
      fmt(l.seconds, 2),
      fmt(latency.achieved),
      fmt(l.relayCpuPct),
      fmt(l.rssMb, 0),
      fmt(l.hostCpuPct),
      l.kafkaTx,
      l.retries,
      fmt(l.published / Math.max(1, l.kafkaTx), 0),
    ]);
  }
  out.push(table(phaseRows));
  out.push(
    `  relay start -> first publish ${fmt((firstPublished.at - spawnedAt) / 1000, 2)} s ` +
      `(reads the checkpoint topic, ${checkpointOffsets.toLocaleString("en-US")} offsets; ` +
      `relay peak RSS by then ${fmt(firstPublished.peakMb)} MB); ` +
      `consumer had all ${cfg.backlog} backlog events ${
        consumerAll ? `${fmt((consumerAll - spawnedAt) / 1000, 2)} s after spawn` : "NOT in time"
      } (consumer rate first -> last ${
        consumerAll ? fmt((cfg.backlog / (consumerAll - firstArrival)) * 1000) : "-"
      } events/s)`,
  );
  if (latency) {
    out.push("");
    const ls = (name: string, s: ReturnType<typeof latencyStats>) => [
      name,
      s.n,
      fmt(s.p50),
      fmt(s.p95),
      fmt(s.p99),
      fmt(s.max),
      fmt(s.mean),
    ];
    out.push(table([
      ["latency, ms (after warm-up)", "events", "p50", "p95", "p99", "max", "mean"],
      ls("COMMIT -> consumer receipt", latency.e2e),
      ls("  COMMIT -> relay's produce request", latency.relaySide),
      ls("  produce request -> consumer receipt", latency.kafkaSide),
    ]));
    out.push(
      `  relay's own commit_to_publish mean ${
        fmt(latency.phase.commitToPublishMeanMs)
      } ms; ${latency.missing} events missing; ${latency.lateStarts} transactions started late`,
    );
  }
  out.push("");
  const fmtMissing = (m: Record<string, number>) =>
    Object.keys(m).length === 0
      ? "none missing"
      : `missing ${Object.entries(m).map(([k, v]) => `${v} ${k}`).join(", ")}`;
  out.push(
    `exactly once, topic re-read afterwards: ${check.distinct} of ${expected} events, ` +
      `${check.duplicates} at two offsets, ${
        fmtMissing(check.missing)
      }, ${check.unknown} unknown; ` +
      `live consumer: ${receiver.arrived.size} received, ${receiver.duplicates} at a second offset, ` +
      `${receiver.redelivered} re-deliveries, ${fmtMissing(liveMissing)}`,
  );
  out.push(
    `relay totals: ${metric(final, "relay_kafka_transactions_total")} Kafka transactions, ` +
      `${metric(final, "relay_kafka_transaction_retries_total")} retries; ` +
      `relay RSS now ${fmt(mem?.now)} MB, peak ${fmt(mem?.peak)} MB; ` +
      `bench ran ${fmt((nowMs() - started) / 1000, 1)} s`,
  );
  if (profileText) out.push("", profileText);
  console.log(out.join("\n"));

  const result = {
    events_per_s: round(eventsPerS),
    p50_ms: round(p?.p50 ?? NaN, 2),
    p95_ms: round(p?.p95 ?? NaN, 2),
    p99_ms: round(p?.p99 ?? NaN, 2),
    raw_events_per_s: round(rawRate),
    raw_producer: "TransactionalProducer",
    raw_idempotent_events_per_s: round(rawIdem?.rate ?? NaN),
    ratio_vs_raw: round(ratio, 3),
    rss_mb: round(rssMb),
    kafka_requests_per_tx: round(requestsPerTx, 2),
    kafka_requests_by_api: requestsPhase.kafkaRequestsByApi,
    kafka_requests_transactions: requestsPhase.kafkaTx,
    exactly_once_ok: exactlyOnce,
    rss_mb_at_first_publish: round(firstPublished.peakMb),
    checkpoint_topic_offsets: checkpointOffsets,
    concurrent_events_per_s: concurrent ? round(concurrent.rate) : null,
    latency_offered_events_per_s: latency ? cfg.rate : null,
    latency_achieved_events_per_s: latency ? round(latency.achieved) : null,
    relay_to_kafka_p99_ms: latency ? round(latency.relaySide.p99, 2) : null,
    kafka_to_consumer_p99_ms: latency ? round(latency.kafkaSide.p99, 2) : null,
    drain_kafka_transactions: drainPhase.kafkaTx,
    drain_transaction_retries: drainPhase.retries,
    exactly_once: {
      written: expected,
      in_log: check.distinct,
      duplicates_in_log: check.duplicates,
      missing_in_log: check.missing,
      live_received: receiver.arrived.size,
      live_duplicates: receiver.duplicates,
      live_missing: liveMissing,
    },
    targets: TARGETS,
    targets_met: met,
    config: cfg,
  };
  console.log(JSON.stringify(result, (_k, v) => (Number.isNaN(v) ? null : v)));
}

try {
  await main();
} catch (err) {
  console.error(`bench failed: ${(err as Error)?.stack ?? err}`);
  const tail = running.relay?.logs().slice(-4_000);
  if (tail) console.error(`relay log tail:\n${tail}`);
  Deno.exitCode = 1;
} finally {
  await cleanup();
}
Deno.exit();
