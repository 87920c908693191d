/**
 * Small helpers of the benchmarks: the relay's Prometheus text, per-process
 * and host CPU from /proc, percentiles, a plain-text table, and a summary of
 * a V8 `.cpuprofile` (`deno run -A bench/support.ts FILE.cpuprofile` prints one).
 *
 * @module
 */

/** Wall-clock milliseconds with sub-millisecond resolution (comparable with Date.now()). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Prometheus text exposition → `name{labels}` → value (histogram buckets included). */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    const v = Number(line.slice(i + 1));
    if (!Number.isNaN(v)) out.set(line.slice(0, i), v);
  }
  return out;
}

/** Fetches a relay's /metrics; undefined while it is not listening yet. */
export async function scrape(port: number): Promise<Map<string, number> | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, {
      signal: AbortSignal.timeout(2_000),
    });
    return parseMetrics(await res.text());
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used so far. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // CLK_TCK is 100 on Linux
  } catch {
    return undefined;
  }
}

/** `VmHWM` (peak RSS) and `VmRSS` of a process, in MB. */
export function processMemoryMb(pid: number): { peak: number; now: number } | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
    return { peak: kb("VmHWM") / 1024, now: kb("VmRSS") / 1024 };
  } catch {
    return undefined;
  }
}

/** Host CPU counters: busy and total jiffies since boot, over all CPUs. */
export function hostCpu(): { busy: number; total: number } {
  const line = Deno.readTextFileSync("/proc/stat").split("\n")[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = v[3] + (v[4] ?? 0);
  return { busy: total - idle, total };
}

export function cpuCount(): number {
  return Deno.readTextFileSync("/proc/stat").split("\n").filter((l) => /^cpu\d/.test(l)).length;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function round(n: number, digits = 1): number {
  if (!Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** A plain-text table; the first row is the header. */
export function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const widths = cells[0].map((_, c) => Math.max(...cells.map((r) => (r[c] ?? "").length)));
  const line = (r: string[]) =>
    r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join("  ");
  return [
    line(cells[0]),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...cells.slice(1).map(line),
  ].join("\n");
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/**
 * The functions with the most self time in a V8 CPU profile, and the share
 * of time per source (our code, each npm package, Deno's runtime).
 */
export function summarizeCpuProfile(
  path: string,
  top = 15,
): { functions: [string, number][]; sources: [string, number][]; totalMs: number } {
  const prof = JSON.parse(Deno.readTextFileSync(path)) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i + 1] ?? 0;
    selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + dt);
  }
  const fn = new Map<string, number>();
  const src = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    total += us;
    if (functionName === "(idle)") continue;
    const short = url.replace(/^.*node_modules\/\.deno\//, "npm:").replace(
      /^file:\/\/.*?\/main\//,
      "",
    );
    const name = `${functionName || "(anonymous)"} ${short ? `${short}:${lineNumber + 1}` : ""}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    const source = url === ""
      ? functionName.startsWith("(") ? functionName : "(native)"
      : url.includes("node_modules/.deno/")
      ? `npm:${url.split("node_modules/.deno/")[1].split("/")[0]}`
      : url.startsWith("file://")
      ? `ours:${short.split("/")[0]}`
      : url.startsWith("ext:") || url.startsWith("node:")
      ? "deno runtime"
      : url;
    src.set(source, (src.get(source) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).map(([k, us]) => [k, us / 1000] as [string, number]);
  return { functions: sorted(fn).slice(0, top), sources: sorted(src), totalMs: total / 1000 };
}

export function formatCpuProfile(path: string, top = 15): string {
  const { functions, sources, totalMs } = summarizeCpuProfile(path, top);
  const busy = sources.reduce((n, [, ms]) => n + ms, 0);
  const pct = (ms: number) => `${round((100 * ms) / busy)} %`;
  return [
    `CPU profile ${path}: ${round(totalMs / 1000, 2)} s sampled, ${
      round(busy / 1000, 2)
    } s not idle`,
    table([
      ["self time by source", "ms", "share"],
      ...sources.map(([k, ms]) => [k, round(ms), pct(ms)]),
    ]),
    "",
    table([
      ["top functions (self time)", "ms", "share"],
      ...functions.map(([k, ms]) => [k, round(ms), pct(ms)]),
    ]),
  ].join("\n");
}

if (import.meta.main) {
  for (const path of Deno.args) console.log(formatCpuProfile(path, 25));
}
