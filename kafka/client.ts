/**
 * Our Kafka client: the one place that constructs kafkajs. kafkajs is no
 * longer maintained (NOTES.md), so the rest of the code sees only the small
 * interfaces of this folder and we can swap the library behind them.
 *
 * @module
 */
import kafkajs from "./kafkajs.ts";
import process from "node:process";
import { registerLz4 } from "./lz4.ts";

const { Kafka, logLevel } = kafkajs;

export type KafkaJs = InstanceType<typeof Kafka>;

/** How to reach the cluster. */
export interface KafkaOptions {
  /** host:port list, e.g. from the `KAFKA_BROKERS` environment variable. */
  brokers: string[];
  clientId: string;
  /** kafkajs log level; errors only unless asked. */
  logLevel?: "nothing" | "error" | "warn" | "info" | "debug";
  /** Per-request timeout; brokers killed in chaos tests make this matter. */
  requestTimeoutMs?: number;
  connectionTimeoutMs?: number;
}

const LEVELS = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
} as const;

/** Parses "h1:p1,h2:p2" into a broker list. */
export function parseBrokers(list: string): string[] {
  const brokers = list.split(",").map((b) => b.trim()).filter(Boolean);
  if (brokers.length === 0) throw new Error("no Kafka brokers given");
  return brokers;
}

let warningFilterInstalled = false;

/**
 * kafkajs 2.2.4 schedules timers with a negative delay (kafkajs #1751, fixed
 * upstream only in forks); Node and Deno then print a TimeoutNegativeWarning
 * on every connection. The timer still fires at once, as kafkajs expects, so
 * only that one warning is dropped.
 */
function silenceNegativeTimeoutWarning(): void {
  if (warningFilterInstalled) return;
  warningFilterInstalled = true;
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  (process as { emitWarning: (...args: unknown[]) => void }).emitWarning = (...args) => {
    const [warning, type] = args as [{ name?: string } | string, unknown];
    const name = typeof warning === "object"
      ? warning?.name
      : typeof type === "object"
      ? (type as { type?: string })?.type
      : type;
    if (name === "TimeoutNegativeWarning") return;
    emit(...args);
  };
}

const BROKERS = new WeakMap<KafkaJs, string[]>();

/** The broker list a client was made with (admin.ts asks each broker in turn). */
export function brokersOf(kafka: KafkaJs): string[] {
  return BROKERS.get(kafka) ?? [];
}

/** Creates the kafkajs client every producer, consumer and admin of ours uses. */
export function createKafka(opts: KafkaOptions): KafkaJs {
  registerLz4();
  silenceNegativeTimeoutWarning();
  const kafka = new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    logLevel: LEVELS[opts.logLevel ?? "error"],
    requestTimeout: opts.requestTimeoutMs ?? 10_000,
    connectionTimeout: opts.connectionTimeoutMs ?? 3_000,
    // Broker restarts are routine in our chaos tests: keep retrying the
    // cluster for up to ~30 s before giving an error to the caller.
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 5_000 },
  });
  BROKERS.set(kafka, opts.brokers);
  return kafka;
}
