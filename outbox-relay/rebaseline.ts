/**
 * The operator's way out when the relay refuses to publish because its slot
 * was lost (slot_loss.ts, the RelaySlotLost alert):
 *
 *   deno task rebaseline --from 2026-11-24T00:00:00Z [--schema orders …]
 *
 * It runs with the relay's environment (RELAY_SLOT, RELAY_TRANSACTIONAL_ID)
 * and
 *  1. makes the slot if it is missing and records the slot's position as the
 *     relay's checkpoint: the new baseline, from which the relay resumes
 *     (everything committed after it comes through the slot). Writing it
 *     through the relay's transactional id fences any relay instance;
 *  2. republishes every stored event created since --from (replay.ts): what
 *     committed before the baseline and never reached Kafka is among them;
 *     consumers deduplicate by event id, so events that did arrive change
 *     nothing.
 * Pick --from a few minutes before the newest event the relay published
 * (`relay.progress.published_until`; an event carries its transaction's
 * start time, which may precede a later commit). The baseline is written
 * first so that nothing committed meanwhile falls between the two steps; if
 * step 2 fails, run the command again.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { connectService, SERVICE_SCHEMAS, type Sql } from "../db/mod.ts";
import { ensureRelaySlot } from "../db/migrate.ts";
import { createKafka, TransactionalProducerPair } from "../kafka/mod.ts";
import { CheckpointStore } from "./checkpoint.ts";
import { loadRelayConfig, type RelayConfig } from "./config.ts";
import { parseLsn } from "./lsn.ts";
import { replay, type ReplayResult, selectEvents } from "./replay.ts";

export interface RebaselineResult extends ReplayResult {
  slot: string;
  /** The slot's position, now the relay's checkpoint. */
  baseline: string;
}

/** Re-baselines `cfg.slotName` and republishes from `from` (see the module's doc). */
export async function rebaseline(
  sql: Sql,
  cfg: RelayConfig,
  opts: { from: Date; schemas: string[] },
): Promise<RebaselineResult> {
  const slot = cfg.slotName;
  await ensureRelaySlot(sql, slot);
  const [pos] = await sql<{ lsn: string; now: Date }[]>`
    select confirmed_flush_lsn::text as lsn, now() as now
    from pg_replication_slots where slot_name = ${slot}`;
  const kafka = createKafka({
    brokers: cfg.kafkaBrokers,
    clientId: "outbox-rebaseline",
    logLevel: "nothing",
  });
  // Both of the relay's transactional ids (producer_pair.ts): registering them
  // fences any relay instance.
  const producer = new TransactionalProducerPair(kafka, { transactionalId: cfg.transactionalId });
  try {
    // Nothing at or below the slot's position will come through it again,
    // and all of it committed before now. A blocked relay that looks again
    // meanwhile registers the same transactional id (CONCURRENT_TRANSACTIONS,
    // or fencing this producer): try again.
    for (let attempt = 1;; attempt++) {
      try {
        await new CheckpointStore(kafka, slot).write(producer, {
          lsn: parseLsn(pos.lsn),
          commitTime: pos.now,
        }, "rebaseline");
        break;
      } catch (err) {
        if (attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 250 * attempt));
      }
    }
  } finally {
    await producer.close();
  }
  const rows = await selectEvents(sql, { from: opts.from, schemas: opts.schemas });
  return { slot, baseline: pos.lsn, ...await replay(rows, cfg.kafkaBrokers) };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { from: { type: "string" }, schema: { type: "string", multiple: true } },
  });
  const from = new Date(values.from ?? "");
  if (Number.isNaN(from.getTime())) {
    console.error("rebaseline: give --from TIME (ISO 8601): republish every event created since");
    Deno.exit(2);
  }
  const cfg = loadRelayConfig();
  const sql = connectService("outbox_relay", { max: 1 });
  try {
    const result = await rebaseline(sql, cfg, {
      from,
      schemas: values.schema?.length ? values.schema : [...SERVICE_SCHEMAS],
    });
    console.log(
      `rebaseline: slot ${result.slot} checkpoint set to ${result.baseline}; ${result.published} event(s) since ${from.toISOString()} republished`,
    );
    console.log(JSON.stringify(result));
  } finally {
    await sql.end();
  }
  Deno.exit(0);
}
