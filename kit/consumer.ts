/**
 * The inbox consumer every service runs: reads its topics in partition order,
 * and for each event it has a handler for, runs that handler in ONE database
 * transaction that first claims the event in the service's inbox, so the
 * event's effects happen once however often Kafka delivers it (SPEC §4.5
 * with inbox tables, as the design card asks). The handler publishes its own
 * events through `appendOutbox(tx, …)` in that same transaction; what must
 * happen only once that transaction committed (a metric) it registers with
 * `afterCommit(tx, …)` (db/after_commit.ts).
 *
 * Failures (SPEC §9.2): a failing handler is retried in place, 3 attempts
 * 1 s apart by default, then the message goes to `<topic>-dlq` and the
 * partition moves on. An unreachable database is not the message's failure:
 * the partition waits for it (with back-off) and no attempt is used up.
 * With a circuit breaker (`breaker`, SPEC §9.1) failures that reach its rate
 * open it and the consumer pauses on the message in hand (no attempt used,
 * nothing dead-lettered) until a half-open trial of that message succeeds.
 * A record that can never be handled (not JSON, not an envelope) goes to
 * `<topic>-dlq` at once. An event type without a handler is
 * acknowledged and skipped: one topic carries many event types.
 *
 * Offsets are committed only after a message was handled, skipped or
 * dead-lettered (kafka/consumer.ts commits handled offsets together), so a
 * crash redelivers, and the inbox turns the redelivery into a no-op.
 *
 * Batches (issue #5): when Kafka hands over several messages of a partition
 * at once, a run of consecutive ones that are envelopes with a handler (up
 * to `batchMessages`, default 100) is handled in ONE transaction instead of
 * one each: one statement claims all their ids in the inbox
 * (`claimInboxBatch`), then each freshly claimed event's handler runs in
 * order, in its own CONSUMER span as above (so the outbox rows it writes
 * carry its own trace), and one COMMIT (one WAL flush) ends them all. An
 * event id twice in the run is handled once, the second is a duplicate.
 * When anything of that transaction fails — a handler throws or rejects the
 * event, a deadlock, the database away, the breaker open — nothing of it is
 * committed, and each message of the run then takes the one-message path
 * above, with its retries, dead letters and waits: the failure semantics of
 * SPEC §9.2 stay those of one message (its handler just ran once more, in
 * the rolled-back batch). Two batches on different partitions may lock the
 * same rows in opposite orders; Postgres aborts one of them after its
 * `deadlock_timeout`, and that one falls back the same way: a deadlock is
 * never a dead letter of the batch path. Messages that are not envelopes,
 * have no handler, or stand alone take the one-message path directly.
 *
 * @module
 */
import { context } from "@opentelemetry/api";
import { inTransaction } from "../db/after_commit.ts";
import { claimInbox, claimInboxBatch, type Sql, type Tx } from "../db/mod.ts";
import {
  Consumer,
  dlqTopicOf,
  IdempotentProducer,
  type IncomingMessage,
  type KafkaJs,
  type MessageContext,
} from "../kafka/mod.ts";
import { type Breaker, BreakerOpenError, type BreakerPolicy, createBreaker } from "./breaker.ts";
import { deadLetterOf, type Failure } from "./dead_letter.ts";
import { isDatabaseUnavailable } from "./db_unavailable.ts";
import { type EventEnvelope, type ParsedEnvelope, parseEnvelope } from "./envelope.ts";
import type { Logger } from "./log.ts";
import { observeEventLatency, registerConsumer, watchConsumerLag } from "./metrics.ts";
import {
  type Context,
  contextFromHeaders,
  failSpan,
  injectSpan,
  inSpan,
  markSpan,
  SpanKind,
  trace,
  tracer,
} from "./tracing.ts";

/**
 * Handles one event inside the transaction that claimed it. Throw to roll
 * back (it is retried, then dead-lettered).
 */
export type EventHandler<P = Record<string, unknown>> = {
  // Method syntax, so a handler may declare its payload type (bivariant).
  handle(tx: Tx, event: EventEnvelope<P>, message: IncomingMessage): Promise<void>;
}["handle"];

/** Handlers by event type (`OrderCreated`, …); other types are skipped. */
export type EventHandlers = Readonly<Record<string, EventHandler>>;

/**
 * Throw from a handler for an event that can never be handled (its payload
 * breaks the contract): it is dead-lettered at once, without retries.
 */
export class PoisonMessageError extends Error {
  override name = "PoisonMessageError";
}

/** Retries in place before a message is dead-lettered (SPEC §9.2: 3 × 1 s). */
export interface RetryOptions {
  /** Handler runs in all, the first included (default 3). */
  attempts?: number;
  /** Pause between runs (default 1000 ms). */
  delayMs?: number;
}

export interface StartConsumerOptions {
  kafka: KafkaJs;
  /** The service's pool (its role's search_path holds its `inbox`). */
  sql: Sql;
  groupId: string;
  topics: string[];
  /** The inbox's consumer name, e.g. `inventory.stock-deduction`. */
  consumerName: string;
  handlers: EventHandlers;
  log: Logger;
  retry?: RetryOptions;
  /** Where a group without committed offsets starts (default: earliest). */
  fromBeginning?: boolean;
  /** How long a fetch waits for data (kafka/consumer.ts default 1000 ms). */
  maxWaitTimeMs?: number;
  /**
   * Partitions handled at the same time (default 1). Each partition still
   * gets one message at a time, in order (per-key order, SPEC §4.4), and its
   * offset is committed only after its handler; different partitions overlap
   * their database round trips instead of queueing behind each other.
   */
  partitionsConcurrently?: number;
  /**
   * A circuit breaker around the handlers' database work (SPEC §9.1), named
   * `breaker.name`: when failures reach its rate the breaker opens and the
   * consumer pauses — it holds the message in hand, uses no attempt and
   * dead-letters nothing — until a trial run of that message after
   * `openMs` succeeds (half-open → closed). Poison is not counted.
   */
  breaker?: BreakerPolicy & { name: string };
  /**
   * Most messages of a partition's fetched batch handled in one transaction
   * (default 100; 1 handles every message in a transaction of its own). A
   * failing batch transaction is rolled back and its messages are handled
   * one by one, with the usual retries and dead letters.
   */
  batchMessages?: number;
}

/** What the consumer did since it started (the observability issue exports these). */
export interface ConsumerCounters {
  /** Events whose handler committed. */
  handled: number;
  /** Events already in the inbox (redeliveries): nothing changed. */
  duplicates: number;
  /** Event types without a handler, acknowledged. */
  skipped: number;
  /** Handler runs that failed and were tried again (waits for an unreachable database too). */
  retried: number;
  /** Messages written to `<topic>-dlq` (poison included). */
  deadLettered: number;
  /** Of those, records that were never handler-able (not JSON, no envelope, rejected). */
  poison: number;
  /** Times the consumer paused because its circuit breaker was open (SPEC §9.1). */
  breakerPauses: number;
  /** Transactions that committed a run of several messages together. */
  batches: number;
  /** Batch transactions that failed, rolled back, and were handled one message at a time. */
  batchFallbacks: number;
}

export interface RunningConsumer {
  /** Live numbers; read them, don't write them. */
  readonly counters: Readonly<ConsumerCounters>;
  /**
   * Leaves the group after the message in hand: a handler that is running
   * finishes, a message waiting for a retry is left unacknowledged for the
   * partition's next owner.
   */
  stop(): Promise<void>;
}

/** Back-off while Kafka or Postgres is unavailable: 1 s, 2 s, … 30 s. */
function backoffMs(attempt: number): number {
  return Math.min(30_000, 1_000 * 2 ** Math.min(attempt, 5));
}

/**
 * Joins `groupId`, and handles `topics` until `stop()`. Resolves once the
 * consumer has joined its group.
 *
 * @example
 * ```ts ignore
 * const consumer = await startConsumer({
 *   kafka, sql, log,
 *   groupId: "inventory",
 *   topics: ["order-events"],
 *   consumerName: "inventory.order-events",
 *   handlers: {
 *     StockDeductionRequested: async (tx, event) => {
 *       await deductStock(tx, event.payload);
 *       await appendOutbox(tx, stockDeducted(event));
 *     },
 *   },
 * });
 * // …
 * await consumer.stop();
 * ```
 */
export async function startConsumer(opts: StartConsumerOptions): Promise<RunningConsumer> {
  const attempts = opts.retry?.attempts ?? 3;
  const delayMs = opts.retry?.delayMs ?? 1_000;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new TypeError("startConsumer(): retry.attempts must be an integer ≥ 1");
  }
  if (!Number.isFinite(delayMs) || delayMs < 0) {
    throw new TypeError("startConsumer(): retry.delayMs must be ≥ 0");
  }
  if (!opts.consumerName) throw new TypeError("startConsumer(): consumerName is required");
  const concurrently = opts.partitionsConcurrently ?? 1;
  if (!Number.isInteger(concurrently) || concurrently < 1) {
    throw new TypeError("startConsumer(): partitionsConcurrently must be an integer ≥ 1");
  }
  const batchMessages = opts.batchMessages ?? 100;
  if (!Number.isInteger(batchMessages) || batchMessages < 1) {
    throw new TypeError("startConsumer(): batchMessages must be an integer ≥ 1");
  }
  const { sql, log, handlers, consumerName, groupId } = opts;
  const counters: ConsumerCounters = {
    handled: 0,
    duplicates: 0,
    skipped: 0,
    retried: 0,
    deadLettered: 0,
    poison: 0,
    breakerPauses: 0,
    batches: 0,
    batchFallbacks: 0,
  };
  const stopping = new AbortController();
  const breaker: Breaker<[() => Promise<boolean>], boolean> | undefined = opts.breaker
    ? createBreaker(opts.breaker.name, (run: () => Promise<boolean>) => run(), opts.breaker, {
      // A message's own fault says nothing about the database's health.
      ignore: (err) => err instanceof PoisonMessageError,
    })
    : undefined;
  const unregisterMetrics = registerConsumer(consumerName, groupId, counters);

  /**
   * Waits `ms`, keeping the group membership alive; false when the consumer
   * is stopping (or lost the partition) and the message must be left alone.
   */
  async function pause(ms: number, ctx: MessageContext): Promise<boolean> {
    const until = Date.now() + ms;
    while (!stopping.signal.aborted && ctx.isRunning()) {
      await ctx.heartbeat().catch(() => {}); // a rebalance shows in isRunning()
      const left = until - Date.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 1_000));
        stopping.signal.addEventListener("abort", done, { once: true });
        function done() {
          clearTimeout(timer);
          stopping.signal.removeEventListener("abort", done);
          resolve();
        }
      });
    }
    return !stopping.signal.aborted && ctx.isRunning();
  }

  // Dead letters go through the idempotent (not the transactional)
  // producer: if a broker dies mid-send it may store a dead letter twice
  // (kafka/producer.ts), which is harmless: the DLQ handler dedupes by event
  // id (by original topic, partition and offset for poison without one), and
  // a re-sent event is deduped again by the consumers' inboxes.
  const dlq = new IdempotentProducer(opts.kafka);

  /** Writes the dead letter, retrying while Kafka refuses; false when stopped first. */
  async function deadLetter(
    message: IncomingMessage,
    failure: Failure,
    event: EventEnvelope | undefined,
    ctx: MessageContext,
  ): Promise<boolean> {
    const topic = dlqTopicOf(message.topic);
    const letter = deadLetterOf(message, failure, { consumer: consumerName, groupId }, event);
    // The dead letter continues the trace (the DLQ handler's spans hang under it).
    const span = tracer.startSpan(`dead-letter ${topic}`, {
      kind: SpanKind.PRODUCER,
      attributes: {
        "messaging.destination.name": topic,
        "dlq.reason": failure.reason,
        "dlq.attempts": failure.attempts,
      },
    });
    failSpan(span, failure.error, `dead-lettered (${failure.reason}): ${failure.detail}`);
    const outer = trace.getActiveSpan();
    if (outer) failSpan(outer, failure.error, `dead-lettered (${failure.reason})`);
    if (letter.headers) injectSpan(span, letter.headers as Record<string, string>);
    for (let i = 0;; i++) {
      try {
        await dlq.send({ topic, messages: [letter] });
        break;
      } catch (err) {
        log.error("could not write a dead letter; the partition waits until it can", {
          ...where(message),
          dlq_topic: topic,
          error: err,
        });
        if (!await pause(backoffMs(i), ctx)) {
          span.end();
          return false;
        }
      }
    }
    span.end();
    counters.deadLettered++;
    log.error("message dead-lettered", {
      ...where(message),
      dlq_topic: topic,
      reason: failure.reason,
      detail: failure.detail,
      attempts: failure.attempts,
      event_id: event?.id,
      event_type: event?.type,
      error: failure.error,
    });
    return true;
  }

  function where(m: IncomingMessage) {
    return { consumer: consumerName, topic: m.topic, partition: m.partition, offset: m.offset };
  }

  /**
   * Runs `fn` in a CONSUMER span that continues the trace the record carries
   * (its `traceparent`: the relay's publish span). Event types this consumer
   * has no handler for get no span.
   */
  function traced(message: IncomingMessage, fn: () => Promise<boolean>): Promise<boolean> {
    const type = message.headers["event-type"];
    if (type !== undefined && !Object.hasOwn(handlers, type)) return fn();
    return inSpan(`handle ${type ?? "record"}`, {
      kind: SpanKind.CONSUMER,
      parent: contextFromHeaders(message.headers),
      attributes: {
        "messaging.system": "kafka",
        "messaging.destination.name": message.topic,
        "messaging.kafka.destination.partition": message.partition,
        "messaging.kafka.message.offset": Number(message.offset),
        "messaging.consumer.group.name": groupId,
        "messaging.message.id": message.headers["event-id"] ?? "",
        "consumer.name": consumerName,
        ...(message.headers["aggregate-id"]
          ? { "aggregate.id": message.headers["aggregate-id"] }
          : {}),
      },
    }, async (span) => {
      const acknowledged = await fn();
      if (!acknowledged) span.setAttribute("consumer.unacknowledged", true);
      return acknowledged;
    });
  }

  /**
   * One message; true once it may be acknowledged. `parsed`: its envelope,
   * when the caller parsed it already.
   */
  async function handleMessage(
    message: IncomingMessage,
    ctx: MessageContext,
    parsed: ParsedEnvelope = parseEnvelope(message),
  ): Promise<boolean> {
    if (!parsed.ok) {
      const now = new Date();
      counters.poison++;
      return deadLetter(
        message,
        {
          reason: parsed.reason,
          detail: parsed.detail,
          error: new PoisonMessageError(parsed.detail),
          attempts: 1,
          firstFailureAt: now,
          lastFailureAt: now,
        },
        undefined,
        ctx,
      );
    }
    const { event } = parsed;
    const handler = Object.hasOwn(handlers, event.type) ? handlers[event.type] : undefined;
    if (!handler) {
      counters.skipped++;
      log.debug("no handler for this event type; skipped", {
        ...where(message),
        event_type: event.type,
      });
      return true;
    }
    // The record's trace continues in the span `traced()` opened for it.
    const traceContext = context.active();
    let firstFailureAt: Date | undefined;
    let outage = 0; // consecutive failures because the database was unreachable
    for (let attempt = 1;; attempt++) {
      try {
        const run = () =>
          inTransaction(sql, async (tx) => {
            if (!await claimInbox(tx, consumerName, event.id)) return false;
            await handler(tx, event, message);
            return true;
          }) as Promise<boolean>;
        const applied = await context.with(traceContext, () => breaker ? breaker.fire(run) : run());
        if (applied) {
          counters.handled++;
          observeEventLatency(consumerName, message.topic, event.occurredAt);
        } else {
          counters.duplicates++;
          trace.getActiveSpan()?.setAttribute("inbox.duplicate", true);
          log.debug("already handled; skipped", { ...where(message), event_id: event.id });
        }
        return true;
      } catch (err) {
        if (breaker && (err instanceof BreakerOpenError || breaker.state() === "open")) {
          // SPEC §9.1: the dependency is failing; stop work rather than burn
          // messages into the DLQ. The message in hand waits (no attempt
          // used) and is the half-open trial once the breaker lets one by.
          attempt--;
          counters.breakerPauses++;
          const waitMs = err instanceof BreakerOpenError
            ? Math.max(100, err.retryAfterMs)
            : opts.breaker!.openMs;
          markSpan("paused: circuit breaker open", { "breaker.wait_ms": waitMs }, { error: err });
          log.warn("circuit breaker open; the consumer pauses", {
            ...where(message),
            breaker: breaker.name,
            event_id: event.id,
            wait_ms: waitMs,
            error: err,
          });
          if (!await pause(waitMs, ctx)) return false;
          continue;
        }
        if (isDatabaseUnavailable(err)) {
          // Not the message's fault: wait for the database without using up
          // attempts, or every message would end in the DLQ during a restart.
          attempt--;
          counters.retried++;
          markSpan("retry: database unavailable", { "retry.outage": outage + 1 }, { error: err });
          log.warn("database unavailable; the partition waits", {
            ...where(message),
            event_id: event.id,
            error: err,
          });
          if (!await pause(backoffMs(outage++), ctx)) return false;
          continue;
        }
        outage = 0;
        const now = new Date();
        firstFailureAt ??= now;
        const rejected = err instanceof PoisonMessageError;
        if (rejected || attempt >= attempts) {
          if (rejected) counters.poison++;
          return deadLetter(
            message,
            {
              reason: rejected ? "rejected" : "handler-failed",
              detail: rejected
                ? `the ${event.type} handler rejected the event`
                : `the ${event.type} handler failed ${attempt} time${attempt === 1 ? "" : "s"}`,
              error: err,
              attempts: attempt,
              firstFailureAt,
              lastFailureAt: now,
            },
            event,
            ctx,
          );
        }
        counters.retried++;
        markSpan(`retry ${event.type}`, { "retry.attempt": attempt, "retry.of": attempts }, {
          error: err,
        });
        log.warn("handler failed; retrying", {
          ...where(message),
          event_id: event.id,
          event_type: event.type,
          attempt,
          of: attempts,
          error: err,
        });
        if (!await pause(delayMs, ctx)) return false;
      }
    }
  }

  /** A message of a batch run: an envelope with a handler. */
  interface Batched {
    message: IncomingMessage;
    event: EventEnvelope;
    handler: EventHandler;
  }

  /**
   * Handles `run` (≥ 2 messages) in one transaction, each handler in its
   * message's span; true once it committed (every message may be
   * acknowledged), false when it was rolled back (nothing of it happened).
   */
  async function handleBatch(run: Batched[]): Promise<boolean> {
    /** Per message in order: freshly claimed (handled) or a duplicate, and its span's context. */
    let outcomes: { applied: boolean; span: Context }[] = [];
    try {
      const work = () =>
        inTransaction(sql, async (tx) => {
          outcomes = [];
          const fresh = await claimInboxBatch(tx, consumerName, run.map((b) => b.event.id));
          for (const { message, event, handler } of run) {
            const applied = fresh.delete(event.id); // a second message with one id is a duplicate
            let failed: { error: unknown } | undefined;
            await traced(message, async () => {
              const span = trace.getActiveSpan();
              span?.setAttribute("consumer.batch.size", run.length);
              outcomes.push({ applied, span: context.active() });
              if (!applied) {
                span?.setAttribute("inbox.duplicate", true);
                return true;
              }
              try {
                await handler(tx, event, message);
              } catch (error) {
                // Not this span's failure: the message is handled again on
                // its own (below), and that span tells how it went.
                failed = { error };
              }
              return true;
            });
            if (failed) throw failed.error;
          }
          return true;
        }) as Promise<boolean>;
      await (breaker ? breaker.fire(work) : work());
    } catch (err) {
      counters.batchFallbacks++;
      for (const [i, { span }] of outcomes.entries()) {
        markSpan(
          "batch rolled back: handled on its own",
          { "consumer.batch.size": run.length },
          { parent: span, ...(i === outcomes.length - 1 ? { error: err } : {}) },
        );
      }
      log.warn("batch transaction failed; its messages are handled one by one", {
        ...where(run[0].message),
        messages: run.length,
        error: err,
      });
      return false;
    }
    counters.batches++;
    for (const [i, { applied }] of outcomes.entries()) {
      const { message, event } = run[i];
      if (applied) {
        counters.handled++;
        observeEventLatency(consumerName, message.topic, event.occurredAt);
      } else {
        counters.duplicates++;
        log.debug("already handled; skipped", { ...where(message), event_id: event.id });
      }
    }
    return true;
  }

  /** One message on its own path, in its span; true once it may be acknowledged. */
  async function handleAlone(
    message: IncomingMessage,
    ctx: MessageContext,
    parsed?: ParsedEnvelope,
  ): Promise<boolean> {
    const acknowledged = await traced(message, () => handleMessage(message, ctx, parsed));
    if (!acknowledged) {
      log.info("stopping: message left unacknowledged for the partition's next owner", {
        ...where(message),
      });
    }
    return acknowledged;
  }

  /**
   * A partition's fetched batch, in order: runs of handler-able envelopes in
   * one transaction each (falling back to one message at a time), the rest
   * one by one. Resolves to how many messages (a prefix) may be acknowledged.
   */
  async function handleFetched(messages: IncomingMessage[], ctx: MessageContext): Promise<number> {
    let done = 0;
    let next: ParsedEnvelope | undefined; // messages[done], parsed while looking for a run's end
    while (done < messages.length && ctx.isRunning()) {
      const run: Batched[] = [];
      if (batchMessages > 1) {
        for (let i = done; i < messages.length && run.length < batchMessages; i++) {
          const parsed = parseEnvelope(messages[i]);
          const handler = parsed.ok && Object.hasOwn(handlers, parsed.event.type)
            ? handlers[parsed.event.type]
            : undefined;
          if (!parsed.ok || !handler) {
            if (i === done) next = parsed;
            break;
          }
          run.push({ message: messages[i], event: parsed.event, handler });
        }
      }
      if (run.length >= 2) {
        if (!await handleBatch(run)) {
          for (const { message, event } of run) {
            if (!ctx.isRunning()) return done;
            if (!await handleAlone(message, ctx, { ok: true, event })) return done;
            done++;
            await ctx.heartbeat();
          }
          continue;
        }
        done += run.length;
      } else {
        const parsed = run.length === 1 ? { ok: true as const, event: run[0].event } : next;
        if (!await handleAlone(messages[done], ctx, parsed)) return done;
        done++;
      }
      next = undefined;
      await ctx.heartbeat();
    }
    return done;
  }

  const consumer = new Consumer(opts.kafka, {
    groupId,
    topics: opts.topics,
    fromBeginning: opts.fromBeginning,
    maxWaitTimeMs: opts.maxWaitTimeMs,
    partitionsConcurrently: opts.partitionsConcurrently,
  });
  try {
    await dlq.connect();
    await consumer.runBatches(handleFetched);
  } catch (err) {
    await consumer.disconnect().catch(() => {});
    await dlq.disconnect().catch(() => {});
    breaker?.shutdown();
    throw err;
  }
  log.info("consumer started", { consumer: consumerName, group: groupId, topics: opts.topics });
  const stopLag = watchConsumerLag(opts.kafka, groupId, opts.topics, { log });

  let stopped: Promise<void> | undefined;
  return {
    counters,
    stop() {
      stopped ??= (async () => {
        stopping.abort();
        await stopLag();
        unregisterMetrics();
        try {
          await consumer.disconnect();
        } finally {
          breaker?.shutdown();
          await dlq.disconnect();
        }
        log.info("consumer stopped", { consumer: consumerName, ...counters });
      })();
      return stopped;
    },
  };
}
