/**
 * Test harness for the outbox relay: an isolated outbox (its own schema,
 * publication and slot, so tests never see the running system's events),
 * relay processes that can be SIGKILLed, paused and restarted, and writers.
 *
 * @module
 */
import postgres from "postgres";
import { connectAdmin } from "../../db/mod.ts";
import {
  Admin,
  RELAY_CHECKPOINT_TOPIC,
  TransactionalProducer,
  valueText,
} from "../../kafka/mod.ts";
import { parseLsn } from "../../outbox-relay/lsn.ts";
import { ensureRelaySlot } from "../../db/migrate.ts";
import { Collector, testKafka } from "./kafka.ts";
import { ManagedProcess, testPort } from "./process.ts";
import { eventually, sleep, uniqueName } from "./dev.ts";

export function adminSql(max = 10) {
  return connectAdmin({ max });
}

/**
 * A private outbox table (same shape as the services' ones), a publication
 * with it and the heartbeat table, a slot name, and a Kafka topic.
 */
export class TestOutbox {
  readonly id = uniqueName("rt").toLowerCase();
  readonly schema = this.id;
  readonly publication = `${this.id}_pub`;
  readonly slot = `${this.id}_slot`;
  readonly topic = `${this.id}-events`;
  #sql = adminSql();

  /** The superuser pool; replaced by reconnect(). */
  get sql(): postgres.Sql {
    return this.#sql;
  }

  /**
   * A fresh pool after Postgres restarted: postgres.js 3.4.9 can leave a
   * query on a connection the server closed waiting forever (porsager
   * #1208; db/socket_guard.ts), so tests do not reuse the old one.
   */
  async reconnect(): Promise<void> {
    const old = this.#sql;
    this.#sql = adminSql();
    // Not awaited: ending a pool with a stuck query can itself wait forever.
    old.end({ timeout: 1 }).catch(() => {});
    await Promise.resolve();
  }

  async create(partitions = 6): Promise<this> {
    await this.sql.begin(async (tx) => {
      await tx`create schema ${tx(this.schema)}`;
      await tx`create table ${tx(this.schema)}.outbox (like orders.outbox including all)`;
      await tx`grant usage on schema ${tx(this.schema)} to outbox_relay`;
      await tx`grant select on ${tx(this.schema)}.outbox to outbox_relay`;
      await tx.unsafe(
        `create publication "${this.publication}" for table "${this.schema}".outbox, relay.heartbeat
         with (publish = 'insert')`,
      );
    });
    // As db/migrate.ts does for the real slot: it must exist before writes.
    await ensureRelaySlot(this.sql, this.slot);
    const admin = new Admin(testKafka("relay-tests-admin"));
    await admin.connect();
    try {
      await admin.createTopic(this.topic, partitions);
    } finally {
      await admin.disconnect();
    }
    return this;
  }

  /** Inserts rows in one transaction; returns their event ids. */
  async insert(
    rows: { key: string; payload: unknown; topic?: string; headers?: unknown }[],
    sql: postgres.Sql = this.sql,
  ): Promise<string[]> {
    const ids = rows.map(() => crypto.randomUUID());
    await sql.begin(async (tx) => {
      for (const [i, r] of rows.entries()) {
        await tx`
          insert into ${tx(this.schema)}.outbox
            (event_id, aggregate_type, aggregate_id, event_type, topic, key, payload, headers)
          values (${ids[i]}, 'test', ${r.key}, 'TestEvent', ${r.topic ?? this.topic}, ${r.key},
                  ${tx.json(r.payload as postgres.JSONValue)}, ${
          tx.json((r.headers ?? {}) as postgres.JSONValue)
        })`;
      }
    });
    return ids;
  }

  /** Every event id the table holds: the truth a consumer must match. */
  async storedIds(): Promise<Set<string>> {
    const rows = await this.sql<{ event_id: string }[]>`select event_id from ${
      this.sql(this.schema)
    }.outbox`;
    return new Set(rows.map((r) => r.event_id));
  }

  async confirmedLsn(): Promise<string | null> {
    const rows = await this.sql<{ lsn: string | null }[]>`
      select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = ${this.slot}`;
    return rows[0]?.lsn ?? null;
  }

  /** Drops everything made for the test; relays must be stopped first. */
  async drop(): Promise<void> {
    await eventually("slot to be released", async () => {
      const rows = await this
        .sql`select active from pg_replication_slots where slot_name = ${this.slot}`;
      return rows.length === 0 || !rows[0].active ? true : undefined;
    }, 20_000).catch(() => {});
    await this.sql`select pg_drop_replication_slot(slot_name) from pg_replication_slots
                   where slot_name = ${this.slot} and not active`.catch(() => {});
    await this.sql`delete from relay.progress where slot_name = ${this.slot}`;
    await this.sql.unsafe(`drop publication if exists "${this.publication}"`);
    await this.sql`drop schema if exists ${this.sql(this.schema)} cascade`;
    const admin = new Admin(testKafka("relay-tests-admin"));
    await admin.connect();
    await admin.deleteTopics([this.topic]).catch(() => {});
    await admin.disconnect();
    await endPool(this.sql);
  }
}

/** One relay process for a TestOutbox. */
export class RelayProcess extends ManagedProcess {
  /** `denoFlags` go between `deno run -A` and the script (e.g. `--cpu-prof`). */
  constructor(
    outbox: TestOutbox,
    name: string,
    extraEnv: Record<string, string> = {},
    denoFlags: string[] = [],
  ) {
    const port = testPort();
    super({
      name,
      script: "outbox-relay/main.ts",
      port,
      denoFlags,
      env: {
        RELAY_INSTANCE_ID: name,
        RELAY_SLOT: outbox.slot,
        RELAY_PUBLICATION: outbox.publication,
        RELAY_HTTP_PORT: String(port),
        RELAY_HEARTBEAT_MS: "500",
        // A test slot covers only its own outbox, so its published position
        // says nothing about the services' outboxes: no retention runs here
        // (db/retention_test.ts tests the cleanup itself).
        RELAY_CLEANUP_INTERVAL_MS: "2147483647",
        ...extraEnv,
      },
    });
  }

  health(): Promise<
    | {
      state: string;
      checkpoint: string | null;
      lastError: string | null;
      blocked: { reason: string; message: string } | null;
    }
    | undefined
  > {
    return this.get("/health");
  }

  /** The relay's /metrics text ("" when it does not answer). */
  async metrics(): Promise<string> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.port}/metrics`, {
        signal: AbortSignal.timeout(1_000),
      });
      return await res.text();
    } catch {
      return "";
    }
  }

  async waitState(state: string, timeoutMs = 30_000): Promise<void> {
    await eventually(
      `${this.name} to be ${state}`,
      async () => {
        const h = await this.health();
        return h?.state === state ? true : undefined;
      },
      timeoutMs,
      100,
    );
  }
}

/**
 * Writers that insert transactions of 1–`maxRows` rows, each key owned by one
 * writer with an increasing sequence number, until `total` rows are stored.
 * A commit that fails with an unknown outcome (e.g. Postgres restarting) is
 * checked against the table before it is tried again, so sequences stay gap-free.
 */
export async function writeEvents(
  outbox: TestOutbox,
  opts: {
    total: number;
    writers: number;
    keysPerWriter?: number;
    maxRows?: number;
    paceMs?: number;
  },
): Promise<void> {
  const keysPerWriter = opts.keysPerWriter ?? 8;
  const maxRows = opts.maxRows ?? 20;
  let remaining = opts.total;
  let sql = adminSql(opts.writers + 2);
  try {
    await Promise.all(Array.from({ length: opts.writers }, async (_, w) => {
      const seq = new Map<string, number>();
      while (remaining > 0) {
        const n = Math.min(remaining, 1 + Math.floor(Math.random() * maxRows));
        remaining -= n;
        const rows = Array.from({ length: n }, () => {
          const key = `w${w}-k${Math.floor(Math.random() * keysPerWriter)}`;
          const s = (seq.get(key) ?? 0) + 1;
          seq.set(key, s);
          return { key, payload: { writer: w, key, seq: s } };
        });
        for (let attempt = 1;; attempt++) {
          try {
            // A query on a connection Postgres closed can hang forever in
            // postgres.js 3.4.9 (porsager/postgres #1208, db/socket_guard.ts):
            // give each attempt a deadline and check the table before the next.
            await withTimeout(insertWithIds(outbox, sql, rows), 10_000);
            break;
          } catch (err) {
            if (attempt > 60) throw err;
            if ((err as Error).message.startsWith("no answer within")) {
              // Its connection may be stuck for good: the writers move to a new pool.
              const stuck = sql;
              sql = adminSql(opts.writers + 2);
              stuck.end({ timeout: 1 }).catch(() => {});
            }
            await sleep(500);
          }
        }
        if (opts.paceMs) await sleep(opts.paceMs);
      }
    }));
  } finally {
    await endPool(sql);
  }
}

/**
 * Ends a pool without waiting forever: after a Postgres restart a query of
 * postgres.js 3.4.9 may never settle (porsager/postgres #1208), and `end()`
 * waits for it; this gives up after a few seconds (the sockets are closed).
 */
export async function endPool(sql: postgres.Sql): Promise<void> {
  await withTimeout(sql.end({ timeout: 1 }), 5_000).catch(() => {});
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Inserts with client-made ids; after an unknown outcome, looks before retrying. */
async function insertWithIds(
  outbox: TestOutbox,
  sql: postgres.Sql,
  rows: { key: string; payload: unknown }[],
): Promise<void> {
  const ids = (rows as { id?: string }[]).map((r) => (r.id ??= crypto.randomUUID()));
  const present = await sql`select 1 from ${sql(outbox.schema)}.outbox where event_id = ${ids[0]}`;
  if (present.length > 0) return; // an earlier attempt did commit
  await sql.begin(async (tx) => {
    for (const [i, r] of rows.entries()) {
      await tx`
        insert into ${tx(outbox.schema)}.outbox
          (event_id, aggregate_type, aggregate_id, event_type, topic, key, payload)
        values (${ids[i]}, 'test', ${r.key}, 'TestEvent', ${outbox.topic}, ${r.key},
                ${tx.json(r.payload as postgres.JSONValue)})`;
    }
  });
}

/**
 * Reads the outbox's topic (read_committed) until every stored event is
 * there, then checks the log: each stored event exactly once, nothing else,
 * and per key the writer's sequence in order.
 */
export async function assertExactlyOnceInOrder(
  outbox: TestOutbox,
  timeoutMs = 120_000,
): Promise<number> {
  const { Collector } = await import("./kafka.ts");
  const { valueText } = await import("../../kafka/mod.ts");
  const stored = await outbox.storedIds();
  const collector = await new Collector(testKafka("relay-tests-check"), [outbox.topic]).start();
  try {
    const distinct = () =>
      new Map(collector.messages.map((m) => [`${m.partition}@${m.offset}`, m]));
    await collector.until(
      `${stored.size} events in Kafka`,
      () => distinct().size >= stored.size,
      timeoutMs,
    )
      .catch((err) => {
        throw new Error(`only ${distinct().size} of ${stored.size} events reached Kafka`, {
          cause: err,
        });
      });
    await sleep(1_500); // a duplicate published late would show up now
    const log = [...distinct().values()].sort((a, b) =>
      a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset))
    );
    const seen = new Map<string, number>();
    for (const m of log) {
      seen.set(m.headers["event-id"], (seen.get(m.headers["event-id"]) ?? 0) + 1);
    }
    const twice = [...seen].filter(([, n]) => n > 1);
    if (twice.length > 0) {
      throw new Error(`${twice.length} events published more than once, e.g. ${twice[0][0]}`);
    }
    const missing = [...stored].filter((id) => !seen.has(id));
    if (missing.length > 0) {
      throw new Error(`${missing.length} stored events never published, e.g. ${missing[0]}`);
    }
    const extra = [...seen.keys()].filter((id) => !stored.has(id));
    if (extra.length > 0) throw new Error(`${extra.length} published events that are not stored`);
    const lastSeq = new Map<string, number>();
    for (const m of log) {
      const { key, seq } = JSON.parse(valueText(m)!).payload as { key: string; seq: number };
      const prev = lastSeq.get(key) ?? 0;
      if (seq !== prev + 1) {
        throw new Error(`key ${key}: seq ${seq} after ${prev} (partition ${m.partition})`);
      }
      lastSeq.set(key, seq);
    }
    return log.length;
  } finally {
    await collector.stop();
  }
}

/**
 * Every committed checkpoint of `slot`, in the order written (the checkpoint
 * topic has one partition). Reads until a probe committed just before shows
 * up, so every checkpoint committed earlier has been read.
 */
export async function checkpointHistory(slot: string): Promise<bigint[]> {
  const kafka = testKafka("relay-tests-checkpoints");
  const probe = crypto.randomUUID();
  const producer = new TransactionalProducer(kafka, { transactionalId: uniqueName("probe") });
  try {
    await producer.commit([{
      topic: RELAY_CHECKPOINT_TOPIC,
      messages: [{ key: `${slot}:test-probe`, value: probe }],
    }]);
  } finally {
    await producer.disconnect();
  }
  const collector = await new Collector(kafka, [RELAY_CHECKPOINT_TOPIC]).start();
  try {
    await collector.until("the checkpoint probe", (ms) => ms.some((m) => valueText(m) === probe));
    return collector.messages.filter((m) => m.key === slot).map((m) =>
      parseLsn(JSON.parse(valueText(m)!).lsn)
    );
  } finally {
    await collector.stop();
  }
}
