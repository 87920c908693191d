/**
 * CPU per process group over a window, from /proc — the saga benchmark's
 * `cpu_ms_per_saga` (issue #16). A group is a set of processes: single ones
 * (a service), or whole trees (Kafka's JVMs, Postgres, Redis) whose children
 * come and go. Postgres runs a backend process per connection: a backend
 * that did its work and exited inside the window is gone from /proc when the
 * window ends, so a tree group also counts the CPU its processes' reaped
 * children used (`cutime` + `cstime` of the postmaster), which is where the
 * kernel puts an exited child's time.
 *
 * @module
 */
import { hostCpu, nowMs } from "./support.ts";

/** CPU_TCK: /proc's clock ticks per second (100 on Linux). */
const TICKS = 100;

interface ProcStat {
  ppid: number;
  /** utime + stime, seconds. */
  own: number;
  /** cutime + cstime: the CPU of children this process waited for, seconds. */
  reaped: number;
}

/** One process's CPU counters, or undefined when it is gone. */
export function procStat(pid: number): ProcStat | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after "(comm) ": state ppid … utime(11) stime(12) cutime(13) cstime(14).
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return {
      ppid: Number(f[1]),
      own: (Number(f[11]) + Number(f[12])) / TICKS,
      reaped: (Number(f[13]) + Number(f[14])) / TICKS,
    };
  } catch {
    return undefined;
  }
}

function allProcesses(): Map<number, ProcStat> {
  const out = new Map<number, ProcStat>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const s = procStat(Number(e.name));
    if (s) out.set(Number(e.name), s);
  }
  return out;
}

/** `roots` and all their descendants. */
function descendants(procs: Map<number, ProcStat>, roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, s] of procs) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  const out: number[] = [];
  const todo = roots.filter((p) => procs.has(p));
  while (todo.length > 0) {
    const pid = todo.pop()!;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

export interface GroupOptions {
  /** Count the processes' descendants and their exited children too (Postgres, JVMs). */
  tree?: boolean;
  /** Part of the measured suite: counts towards `suiteSeconds` (not the load generator). */
  suite?: boolean;
}

interface Group extends GroupOptions {
  name: string;
  pids: () => number[];
}

/** CPU seconds each group has used so far, and the host's counters, at one moment. */
export interface CpuSnapshot {
  at: number;
  host: { busy: number; total: number };
  /** Cumulative CPU seconds per group, in the meter's group order. */
  groups: number[];
}

export interface CpuWindow {
  seconds: number;
  /** Per group: name, cores used (1.0 = one core busy all the time), CPU seconds, counted. */
  groups: { name: string; cores: number; cpuSeconds: number; suite: boolean }[];
  /** CPU seconds of the groups marked `suite`. */
  suiteSeconds: number;
  hostPct: number;
}

/** Classifies processes into named groups; the host's remaining CPU is "other". */
export class CpuMeter {
  #groups: Group[] = [];

  group(name: string, pids: () => (number | null | undefined)[], opts: GroupOptions = {}): this {
    this.#groups.push({ name, ...opts, pids: () => pids().filter((p): p is number => !!p) });
    return this;
  }

  snapshot(): CpuSnapshot {
    const procs = allProcesses();
    const claimed = new Set<number>();
    const groups = this.#groups.map((g) => {
      let sum = 0;
      const pids = g.tree ? descendants(procs, g.pids()) : g.pids();
      for (const pid of pids) {
        const s = procs.get(pid);
        if (!s || claimed.has(pid)) continue;
        claimed.add(pid);
        sum += s.own + (g.tree ? s.reaped : 0);
      }
      return sum;
    });
    return { at: nowMs(), host: hostCpu(), groups };
  }

  between(a: CpuSnapshot, b: CpuSnapshot): CpuWindow {
    const seconds = (b.at - a.at) / 1000;
    const groups = this.#groups.map((g, i) => {
      const cpuSeconds = Math.max(0, b.groups[i] - a.groups[i]);
      return { name: g.name, cores: cpuSeconds / seconds, cpuSeconds, suite: !!g.suite };
    });
    const hostSeconds = (b.host.busy - a.host.busy) / TICKS;
    const inGroups = groups.reduce((n, g) => n + g.cpuSeconds, 0);
    const other = Math.max(0, hostSeconds - inGroups);
    groups.push({ name: "other", cores: other / seconds, cpuSeconds: other, suite: false });
    return {
      seconds,
      groups,
      suiteSeconds: groups.filter((g) => g.suite).reduce((n, g) => n + g.cpuSeconds, 0),
      hostPct: ((b.host.busy - a.host.busy) / Math.max(1, b.host.total - a.host.total)) * 100,
    };
  }
}

/** A pid from a pid file, when the file is there and the process runs. */
export function pidFile(path: string): number | null {
  try {
    const n = Number(Deno.readTextFileSync(path).trim());
    return Number.isInteger(n) && n > 0 && procStat(n) ? n : null;
  } catch {
    return null;
  }
}

/** The parent of a process (e.g. the postmaster of a Postgres backend). */
export function parentPid(pid: number): number | null {
  return procStat(pid)?.ppid ?? null;
}
