/**
 * The system panel's figures, from what the processes already expose: each
 * one's `/metrics` (Prometheus text) and the relay's `/health`. Parsing is
 * plain Prometheus text format; picking is by metric name, so a process that
 * does not (yet) export a figure simply shows none.
 *
 * @module
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Samples of a Prometheus text exposition (comments and malformed lines skipped). */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      let l: RegExpExecArray | null;
      while ((l = re.exec(m[3]))) {
        labels[l[1]] = l[2].replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
      }
    }
    const value = m[4] === "+Inf" ? Infinity : m[4] === "-Inf" ? -Infinity : Number(m[4]);
    if (!Number.isNaN(value)) out.push({ name: m[1], labels, value });
  }
  return out;
}

export interface ConsumerLag {
  process: string;
  group: string;
  topic?: string;
  lag: number;
}

export interface BreakerState {
  process: string;
  name: string;
  state: string;
}

export interface BrokerHealth {
  process: string;
  broker: string;
  up: boolean;
}

export interface SystemSummary {
  consumerLag: ConsumerLag[];
  breakers: BreakerState[];
  brokers: BrokerHealth[];
}

/** kit/metrics.ts `circuit_breaker_state`: 0 closed, 1 half-open, 2 open. */
const BREAKER_STATES = ["closed", "half-open", "open"];

/**
 * Consumer lag per group (summed over partitions), breaker states and broker
 * health from the samples of each process, recognised by name:
 * `*consumer*lag*` (labels `group`/`consumer_group`, `topic`),
 * `*breaker*state*` (label `breaker`/`name`; a `state` label with value 1, or
 * the value 0 closed / 1 half-open / 2 open), `*broker*up*`/`*broker*health*`
 * (label `broker`/`node_id`).
 */
export function summarize(byProcess: Record<string, Sample[]>): SystemSummary {
  const consumerLag: ConsumerLag[] = [];
  const breakers: BreakerState[] = [];
  const brokers: BrokerHealth[] = [];
  for (const [process, samples] of Object.entries(byProcess)) {
    const lag = new Map<string, ConsumerLag>();
    for (const s of samples) {
      const n = s.name.toLowerCase();
      if (/consumer.*lag/.test(n) && !/_(bucket|sum|count|created)$/.test(n)) {
        if (/seconds|_ms$/.test(n)) continue; // a time lag, not a message count
        const group = s.labels.group ?? s.labels.consumer_group ?? s.labels.groupId ?? "?";
        const key = `${group}\u0000${s.labels.topic ?? ""}`;
        const entry = lag.get(key) ??
          { process, group, ...(s.labels.topic ? { topic: s.labels.topic } : {}), lag: 0 };
        entry.lag += s.value;
        lag.set(key, entry);
      } else if (/breaker.*state/.test(n)) {
        const name = s.labels.breaker ?? s.labels.name ?? "?";
        if (s.labels.state !== undefined) {
          if (s.value === 1) breakers.push({ process, name, state: s.labels.state });
        } else {
          breakers.push({ process, name, state: BREAKER_STATES[s.value] ?? String(s.value) });
        }
      } else if (/broker.*(up|health|available|online)/.test(n)) {
        const broker = s.labels.broker ?? s.labels.node_id ?? s.labels.node ?? s.labels.id ?? "?";
        brokers.push({ process, broker, up: s.value >= 1 });
      }
    }
    consumerLag.push(...lag.values());
  }
  return { consumerLag, breakers, brokers };
}
