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

/** An order instance's admission control (issue #17; services/order/metrics.ts). */
export interface AdmissionSummary {
  process: string;
  /** `refusing` while the sagas in flight are at the limit. */
  state: "admitting" | "refusing";
  inFlight: number;
  limit: number;
  completionRatePerS: number;
  /** In flight / completion rate; -1 when nothing ends. */
  estimatedWaitSeconds: number;
  admitted: number;
  refusedOverloaded: number;
  refusedUserLimit: number;
}

export interface SystemSummary {
  consumerLag: ConsumerLag[];
  breakers: BreakerState[];
  brokers: BrokerHealth[];
  admission: AdmissionSummary[];
}

/** The admission figures of one process's samples, or undefined when it has none. */
function admissionOf(process: string, samples: Sample[]): AdmissionSummary | undefined {
  const value = (name: string, labels: Record<string, string> = {}) =>
    samples.find((s) =>
      s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
    )?.value;
  const limit = value("orders_admission_limit");
  if (limit === undefined) return undefined;
  const inFlight = value("orders_admission_in_flight") ?? 0;
  return {
    process,
    state: inFlight >= limit ? "refusing" : "admitting",
    inFlight,
    limit,
    completionRatePerS: value("orders_admission_completion_rate") ?? 0,
    estimatedWaitSeconds: value("orders_admission_estimated_wait_seconds") ?? 0,
    admitted: value("orders_admitted_total") ?? 0,
    refusedOverloaded: value("orders_refused_total", { reason: "overloaded" }) ?? 0,
    refusedUserLimit: value("orders_refused_total", { reason: "user_limit" }) ?? 0,
  };
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
  const admission: AdmissionSummary[] = [];
  for (const [process, samples] of Object.entries(byProcess)) {
    const admitting = admissionOf(process, samples);
    if (admitting) admission.push(admitting);
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
  return { consumerLag, breakers, brokers, admission };
}
