/**
 * Reads outbox inserts from Postgres' write-ahead log through a durable
 * (permanent) logical replication slot with the pgoutput plugin. Rows
 * committed while no relay listened are delivered on the next start, from
 * the slot's confirmed position on (NOTES.md: a temporary slot would lose them).
 *
 * The reader hands over whole Postgres transactions, in commit order, each
 * with the WAL position its commit record ends at: the position the relay
 * checkpoints and confirms.
 *
 * @module
 */
import { createRequire } from "node:module";
import { LogicalReplicationService, PgoutputPlugin } from "pg-logical-replication";
import { formatLsn, parseLsn } from "./lsn.ts";

/** An outbox row as decoded from the WAL. */
export interface OutboxRow {
  /** The service schema the row was written in (orders, inventory, …). */
  schema: string;
  eventId: string;
  aggregateType: string;
  aggregateId: string;
  eventType: string;
  topic: string;
  key: string;
  /** The payload as a value (rows read with SQL, e.g. a replay), or undefined when `payloadJson` has it. */
  payload: unknown;
  /**
   * The payload as Postgres' JSON text (rows from the WAL): the relay puts it
   * into the record as it is, never parsing it — less CPU and memory per
   * event than a parsed object (issue #16).
   */
  payloadJson?: string;
  headers: unknown;
  createdAt: Date;
}

/** One committed Postgres transaction, as far as the relay cares. */
export interface WalTransaction {
  /** End of the commit record: confirm this once the events are in Kafka. */
  commitEndLsn: bigint;
  commitTime: Date;
  /** Outbox rows in insert order; empty for a heartbeat-only transaction. */
  events: OutboxRow[];
}

export interface WalReaderOptions {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  slotName: string;
  publicationName: string;
  applicationName?: string;
}

/**
 * jsonb columns arrive as their text: pg-logical-replication parses column
 * values with the `pg` package's type parsers, and the relay forwards
 * payloads without looking inside (rowOf parses only the small headers).
 * The relay process has no other user of `pg`.
 */
const JSONB_OID = 3802;
{
  const require = createRequire(import.meta.url);
  const pg = createRequire(require.resolve("pg-logical-replication"))("pg") as {
    types: { setTypeParser(oid: number, parse: (text: string) => unknown): void };
  };
  pg.types.setTypeParser(JSONB_OID, (text: string) => text);
}

/** The table heartbeats go to (db/migrations): part of the publication, never an event. */
const HEARTBEAT_TABLE = { schema: "relay", name: "heartbeat" };

type PgoutputMessage =
  | { tag: "begin"; commitLsn: string | null; commitTime: bigint; xid: number }
  | { tag: "commit"; commitEndLsn: string | null; commitTime: bigint }
  | { tag: "insert"; relation: { schema: string; name: string }; new: Record<string, unknown> }
  | { tag: string };

export class WalReader {
  #opts: WalReaderOptions;
  #service: LogicalReplicationService | null = null;
  #current: { events: OutboxRow[] } | null = null;

  constructor(opts: WalReaderOptions) {
    this.#opts = opts;
  }

  /**
   * Streams transactions to `onTransaction` one at a time: the stream is
   * paused while the callback runs, so a slow consumer applies backpressure
   * instead of growing memory. Resolves when the stream ends; rejects on a
   * replication error (e.g. the slot is in use by another relay).
   */
  async run(
    onTransaction: (tx: WalTransaction) => Promise<void>,
    onStart: () => void = () => {},
    onKeepalive: (idleAt: bigint | null, replyNow: boolean) => void = () => {},
  ): Promise<void> {
    const service = new LogicalReplicationService(
      {
        host: this.#opts.host,
        port: this.#opts.port,
        database: this.#opts.database,
        user: this.#opts.user,
        password: this.#opts.password,
        application_name: this.#opts.applicationName ?? "outbox-relay",
      },
      // Positions are confirmed only by acknowledge() below, never by the
      // library: it would confirm what was received, not what is in Kafka.
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
    );
    this.#service = service;
    const failed = new Promise<never>((_, reject) => service.on("error", reject));
    failed.catch(() => {}); // observed through the race below; never unhandled
    service.on("start", onStart);
    // A keepalive carries the position the server has decoded and sent up
    // to. When every message before it has been handed over (the library's
    // flow-control queue is empty), nothing before that position is still
    // on its way to us: the relay may confirm it once its own queue is empty
    // too. Without this an idle slot would never move past non-outbox WAL,
    // and a Postgres shutdown would wait for us forever (it waits until the
    // reader has confirmed everything sent).
    service.on("heartbeat", (lsn: string, _ts: number, shouldRespond: boolean) => {
      const internals = service as unknown as { _messageQueue?: unknown[]; _processing?: boolean };
      const idle = (internals._messageQueue?.length ?? 0) === 0 && !internals._processing;
      onKeepalive(idle ? parseLsn(lsn) : null, shouldRespond);
    });
    service.on("data", async (_lsn: string, msg: PgoutputMessage) => {
      const tx = this.#decode(msg);
      if (tx) await onTransaction(tx);
    });
    const plugin = new PgoutputPlugin({
      protoVersion: 1,
      publicationNames: [this.#opts.publicationName],
    });
    await Promise.race([service.subscribe(plugin, this.#opts.slotName), failed]);
  }

  #decode(msg: PgoutputMessage): WalTransaction | null {
    switch (msg.tag) {
      case "begin":
        this.#current = { events: [] };
        return null;
      case "insert": {
        const m = msg as Extract<PgoutputMessage, { tag: "insert" }>;
        if (!this.#current) throw new Error("insert outside a transaction in the WAL stream");
        if (
          m.relation.schema === HEARTBEAT_TABLE.schema && m.relation.name === HEARTBEAT_TABLE.name
        ) {
          return null;
        }
        this.#current.events.push(rowOf(m.relation.schema, m.new));
        return null;
      }
      case "commit": {
        const m = msg as Extract<PgoutputMessage, { tag: "commit" }>;
        const events = this.#current?.events ?? [];
        this.#current = null;
        return {
          commitEndLsn: parseLsn(m.commitEndLsn!),
          // The library already shifts pgoutput's 2000-01-01 epoch: µs since 1970.
          commitTime: new Date(Number(m.commitTime / 1000n)),
          events,
        };
      }
      default:
        return null; // relation, type, origin messages: metadata only
    }
  }

  /** The process id of our walsender while streaming: the slot's active_pid while we hold it. */
  get backendPid(): number | null {
    const client = (this.#service as unknown as { _client?: { processID?: number | null } } | null)
      ?._client;
    return client?.processID ?? null;
  }

  /**
   * Tells Postgres everything up to `lsn` is durable elsewhere: the slot may
   * release that WAL and will not send those transactions again. Also the
   * answer to the server's keepalive, so call it regularly.
   */
  async acknowledge(lsn: bigint): Promise<void> {
    // The library reports `lsn + 1`; we report exactly `lsn`. It matters at
    // shutdown: Postgres waits until the reported position EQUALS what it
    // sent, so one past it would never do.
    if (lsn > 0n) await this.#service?.acknowledge(formatLsn(lsn - 1n));
  }

  async stop(): Promise<void> {
    const s = this.#service;
    this.#service = null;
    if (s) await s.destroy().catch(() => {});
  }
}

function rowOf(schema: string, t: Record<string, unknown>): OutboxRow {
  const json = (v: unknown) =>
    typeof v === "string" ? v : v == null ? undefined : JSON.stringify(v);
  const headersJson = json(t.headers);
  return {
    schema,
    eventId: String(t.event_id),
    aggregateType: String(t.aggregate_type),
    aggregateId: String(t.aggregate_id),
    eventType: String(t.event_type),
    topic: String(t.topic),
    key: String(t.key),
    payload: undefined,
    payloadJson: json(t.payload),
    headers: headersJson === undefined ? null : JSON.parse(headersJson),
    createdAt: t.created_at instanceof Date ? t.created_at : new Date(String(t.created_at)),
  };
}
