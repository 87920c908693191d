/**
 * The kill schedule: broker SIGKILLs, SIGKILLs of the relay and each
 * service, a Postgres and a Redis restart — shuffled, spread over the run,
 * one fault at a time. Each fault is repaired after a short down time, then
 * a probe order placed after the repair must complete: the time from repair
 * to the probe's completion is that fault's recovery time. A broker is only
 * killed while every partition has all three replicas in sync, so
 * min.insync.replicas=2 always holds.
 *
 * Brokers, Postgres and Redis are driven through `./dev` (so the run acts on
 * whatever infrastructure the environment names); the suite's own processes
 * through their ManagedProcess.
 *
 * @module
 */
import { Admin, allTopics, createKafka, RELAY_DLQ_TOPIC } from "../kafka/mod.ts";
import { infraConfig } from "../kit/env.ts";
import { dev, sleep } from "../tests/support/dev.ts";
import type { ManagedProcess } from "../tests/support/process.ts";
import type { Suite } from "../tests/support/suite.ts";
import type { PlacedOrder } from "./load.ts";
import { probeUntilCompleted } from "./probe.ts";
import type { World } from "./world.ts";

export type FaultKind =
  | "broker"
  | "relay"
  | "order"
  | "inventory"
  | "coupon"
  | "point"
  | "postgres"
  | "redis";

export const FAULT_KINDS: FaultKind[] = [
  "broker",
  "relay",
  "order",
  "inventory",
  "coupon",
  "point",
  "postgres",
  "redis",
];

export interface FaultRecord {
  kind: FaultKind;
  /** Broker number or process name. */
  target: string;
  /** Seconds since the run started when the fault was injected. */
  atS: number;
  /** How long it was down (kill → restarted and answering). */
  downMs: number;
  /** Repair → first probe order placed after it COMPLETED. */
  recoverMs: number;
  ok: boolean;
  note: string;
}

export interface KillPlan {
  brokerKills: number;
  processKills: number;
  postgresRestarts: number;
  redisRestarts: number;
  downMs: [number, number];
  brokerDownMs: [number, number];
  recoverTimeoutS: number;
}

function between([min, max]: [number, number]): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

/** The faults of a run, shuffled (Postgres and Redis away from the very start and end). */
export function schedule(plan: KillPlan): FaultKind[] {
  const xs: FaultKind[] = [];
  for (let i = 0; i < plan.brokerKills; i++) xs.push("broker");
  for (const k of ["relay", "order", "inventory", "coupon", "point"] as const) {
    for (let i = 0; i < plan.processKills; i++) xs.push(k);
  }
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  const middle = () => Math.floor(xs.length * (0.25 + Math.random() * 0.5));
  for (let i = 0; i < plan.postgresRestarts; i++) xs.splice(middle(), 0, "postgres");
  for (let i = 0; i < plan.redisRestarts; i++) xs.splice(middle(), 0, "redis");
  return xs;
}

const INTERNAL_TOPICS = ["__consumer_offsets", "__transaction_state"];

/** Waits until every partition of every topic has all its replicas in sync. */
export async function waitFullIsr(timeoutMs: number): Promise<boolean> {
  const topics = [...allTopics().map((t) => t.name), RELAY_DLQ_TOPIC, ...INTERNAL_TOPICS];
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const admin = new Admin(
      createKafka({
        brokers: infraConfig().kafkaBrokers,
        clientId: "chaos-isr",
        logLevel: "nothing",
      }),
    );
    try {
      await admin.connect();
      let full = true;
      const existing = new Set(await admin.listTopics());
      for (const t of new Set(topics.filter((t) => existing.has(t) || t.startsWith("__")))) {
        const parts = await admin.describeTopic(t);
        if (parts.some((p) => p.isr.length < p.replicas.length || p.leader < 0)) {
          full = false;
          break;
        }
      }
      if (full) return true;
    } catch {
      /* a broker is still starting */
    } finally {
      await admin.disconnect().catch(() => {});
    }
    await sleep(1_000);
  }
  return false;
}

/** Makes sure all brokers, Postgres and Redis run (for finally-blocks). */
export async function ensureInfraUp(log: (s: string) => void = console.log): Promise<void> {
  for (const n of [1, 2, 3]) {
    await dev("kafka", "start", String(n)).catch((err) => log(`kafka start ${n}: ${err}`));
  }
  await dev("postgres", "up").catch((err) => log(`postgres up: ${err}`));
  await dev("redis", "up").catch((err) => log(`redis up: ${err}`));
}

export class Killer {
  readonly records: FaultRecord[] = [];
  /** Probe orders placed (they are orders too: the checks include them). */
  readonly probes: PlacedOrder[] = [];
  #lastBroker = 0;
  #orderTurn = 0;

  constructor(
    private suite: Suite,
    private world: World,
    private plan: KillPlan,
    private startedAt: number,
    private log: (s: string) => void,
  ) {}

  /** Runs the schedule, one fault every `spacingMs` at most, until done or `stop`. */
  async run(faults: FaultKind[], spacingMs: number, stop: AbortSignal): Promise<void> {
    let next = Date.now() + spacingMs / 2;
    for (const kind of faults) {
      await sleep(Math.max(0, next - Date.now()));
      if (stop.aborted) return;
      const rec = await this.inject(kind);
      this.records.push(rec);
      this.log(
        `  ${rec.ok ? "ok  " : "FAIL"} ${rec.kind.padEnd(9)} ${rec.target.padEnd(11)} at ${
          rec.atS.toFixed(0).padStart(4)
        } s  down ${(rec.downMs / 1000).toFixed(1)} s  recovered in ${
          (rec.recoverMs / 1000).toFixed(1)
        } s${rec.note ? `  (${rec.note})` : ""}`,
      );
      next += spacingMs;
    }
  }

  async inject(kind: FaultKind): Promise<FaultRecord> {
    const rec: FaultRecord = {
      kind,
      target: "",
      atS: 0,
      downMs: 0,
      recoverMs: 0,
      ok: true,
      note: "",
    };
    if (kind === "broker" && !await waitFullIsr(120_000)) {
      rec.note = "replicas not all in sync before the kill; ";
    }
    rec.atS = (Date.now() - this.startedAt) / 1000;
    const t0 = Date.now();
    let probeTargets = this.suite.orders;
    try {
      if (kind === "broker") {
        const choices = [1, 2, 3].filter((b) => b !== this.#lastBroker);
        const broker = choices[Math.floor(Math.random() * choices.length)];
        this.#lastBroker = broker;
        rec.target = `kafka-${broker}`;
        await dev("kafka", "kill", String(broker));
        await sleep(between(this.plan.brokerDownMs));
        await dev("kafka", "start", String(broker));
      } else if (kind === "postgres") {
        rec.target = "postgres";
        await dev("postgres", "restart");
      } else if (kind === "redis") {
        rec.target = "redis";
        await dev("redis", "restart");
      } else {
        const p = this.#process(kind);
        rec.target = p.name;
        await p.kill();
        await sleep(between(this.plan.downMs));
        p.start();
        await p.ready(this.plan.recoverTimeoutS * 1_000);
        if (kind === "order") probeTargets = [p];
      }
    } catch (err) {
      rec.ok = false;
      rec.note += `repair failed: ${(err as Error).message.slice(0, 300)}`;
    }
    rec.downMs = Date.now() - t0;
    const t1 = Date.now();
    const probe = await probeUntilCompleted(
      this.suite,
      this.world,
      this.plan.recoverTimeoutS * 1_000,
      probeTargets,
    );
    this.probes.push(...probe.placed);
    rec.recoverMs = Date.now() - t1;
    if (!probe.ok) {
      rec.ok = false;
      rec.note += `no probe completed within ${this.plan.recoverTimeoutS} s: ${probe.note}`;
    }
    if (kind === "broker") {
      // The next broker kill waits for full ISR anyway; the last one must too.
      if (!await waitFullIsr(120_000)) rec.note += "replicas not back in sync after 120 s";
    }
    return rec;
  }

  #process(kind: Exclude<FaultKind, "broker" | "postgres" | "redis">): ManagedProcess {
    switch (kind) {
      case "relay":
        return this.suite.relay;
      case "order":
        return this.suite.orders[this.#orderTurn++ % this.suite.orders.length];
      case "inventory":
        return this.suite.inventory;
      case "coupon":
        return this.suite.coupon;
      case "point":
        return this.suite.point;
    }
  }
}
