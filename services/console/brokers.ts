/**
 * Broker health for the system panel. No process exports it as a metric, so
 * the console asks each configured broker itself, all at once with a short
 * timeout: a broker that answers a metadata request is up, and its answer
 * names its node id. (Under KRaft the metadata's "controller" is any live
 * broker, not the active controller, so it is not shown.) Results are kept a
 * few seconds, so a page polling the panel does not poll the brokers.
 *
 * @module
 */
import { createKafka } from "../../kafka/mod.ts";

export interface BrokerProbe {
  broker: string;
  up: boolean;
  /** Its node id, when it answered. */
  nodeId?: number;
  error?: string;
}

async function probeOne(address: string, timeoutMs: number): Promise<BrokerProbe> {
  const kafka = createKafka({
    brokers: [address],
    clientId: "console-broker-check",
    logLevel: "nothing",
    requestTimeoutMs: timeoutMs,
    connectionTimeoutMs: timeoutMs,
  });
  const admin = kafka.admin({ retry: { retries: 0 } });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const cluster = await Promise.race([
      (async () => {
        await admin.connect();
        return await admin.describeCluster();
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    const [host, port] = [address.slice(0, address.lastIndexOf(":")), address.split(":").pop()];
    const me = cluster.brokers.find((b) => b.host === host && String(b.port) === port);
    return {
      broker: address,
      up: true,
      ...(me ? { nodeId: me.nodeId } : {}),
    };
  } catch (err) {
    return { broker: address, up: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => {});
  }
}

export class BrokerProber {
  #last: { at: number; result: Promise<BrokerProbe[]> } | null = null;

  constructor(
    readonly brokers: string[],
    readonly timeoutMs = 2_000,
    readonly cacheMs = 5_000,
  ) {}

  /** Every configured broker's health (at most `cacheMs` old). */
  probe(now = Date.now()): Promise<BrokerProbe[]> {
    if (!this.#last || now - this.#last.at > this.cacheMs) {
      this.#last = {
        at: now,
        result: Promise.all(this.brokers.map((b) => probeOne(b, this.timeoutMs))),
      };
    }
    return this.#last.result;
  }
}
