/**
 * The dead-letter service's consumer: reads every DLQ topic and stores each
 * record once (handlers/arrival.ts). It does not dead-letter anything itself
 * (there is no DLQ of the DLQ): a record it cannot store — Postgres down, a
 * bug — is tried again with back-off (1 s … 30 s) and its partition waits;
 * the offset is committed only after the record is stored (SPEC §7.1), so
 * nothing is lost, and a record read twice is ignored (deliveries table).
 *
 * @module
 */
import { Consumer, type KafkaJs, type MessageContext } from "../../../kafka/mod.ts";
import { handleArrival } from "./arrival.ts";
import type { DeadLetterDeps } from "./deps.ts";

export interface DeadLetterConsumer {
  stop(): Promise<void>;
}

/** Joins `groupId` and stores what `topics` carry until stopped. */
export async function startDeadLetterConsumer(
  deps: DeadLetterDeps,
  opts: { kafka: KafkaJs; groupId: string; topics: string[]; maxWaitTimeMs?: number },
): Promise<DeadLetterConsumer> {
  const stopping = new AbortController();
  const consumer = new Consumer(opts.kafka, {
    groupId: opts.groupId,
    topics: opts.topics,
    fromBeginning: true,
    maxWaitTimeMs: opts.maxWaitTimeMs,
  });

  async function wait(ms: number, ctx: MessageContext): Promise<boolean> {
    const until = Date.now() + ms;
    while (Date.now() < until && !stopping.signal.aborted && ctx.isRunning()) {
      await ctx.heartbeat().catch(() => {});
      await new Promise((r) => setTimeout(r, Math.min(1_000, until - Date.now())));
    }
    return !stopping.signal.aborted && ctx.isRunning();
  }

  await consumer.run(async (message, ctx) => {
    for (let failure = 0;; failure++) {
      try {
        await handleArrival(deps, message);
        return true;
      } catch (err) {
        deps.log.error("could not store a dead letter; its partition waits", {
          dlq_topic: message.topic,
          partition: message.partition,
          offset: message.offset,
          error: err,
        });
        if (!await wait(Math.min(30_000, 1_000 * 2 ** Math.min(failure, 5)), ctx)) return false;
      }
    }
  });
  deps.log.info("dead-letter consumer started", { group: opts.groupId, topics: opts.topics });
  return {
    async stop() {
      stopping.abort();
      await consumer.disconnect();
    },
  };
}
