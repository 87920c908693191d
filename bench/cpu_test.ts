import assert from "node:assert/strict";
import { connectAdmin } from "../db/mod.ts";
import { CpuMeter, parentPid, procStat } from "./cpu.ts";

/** CPU seconds so far of every child of the postmaster (its backends). */
function backends(postmaster: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of Deno.readDirSync("/proc")) {
    const s = /^\d+$/.test(e.name) ? procStat(Number(e.name)) : undefined;
    if (s?.ppid === postmaster) out.set(Number(e.name), s.own);
  }
  return out;
}

Deno.test("the Postgres CPU group counts a backend that did its work and ended inside the window", async () => {
  const sql = connectAdmin({ max: 1 });
  const [{ pid }] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
  const postmaster = parentPid(pid)!;
  const meter = new CpuMeter().group("postgres", () => [postmaster], { tree: true });
  const before = backends(postmaster);
  const a = meter.snapshot();
  // ~0.5 s of one backend's CPU, then the connection (and its backend) ends.
  await sql`select count(*) from generate_series(1, 5000000)`;
  const burned = procStat(pid)!.own - before.get(pid)!;
  await sql.end();
  await new Promise((r) => setTimeout(r, 300)); // the postmaster reaps it
  const b = meter.snapshot();
  const after = backends(postmaster);
  const counted = meter.between(a, b).groups.find((g) => g.name === "postgres")!.cpuSeconds;
  // What the processes alive at both ends did (others' backends too, on a shared machine).
  let survivors = 0;
  for (const [p, s] of after) if (before.has(p)) survivors += s - before.get(p)!;
  assert.ok(burned > 0.1, `the backend burned only ${burned} s`);
  assert.ok(
    counted - survivors >= 0.8 * burned,
    `the meter counted ${counted.toFixed(2)} s, the surviving processes used ` +
      `${survivors.toFixed(2)} s: the ended backend's ${burned.toFixed(2)} s are missing`,
  );
});

Deno.test("CPU groups marked as the suite add up to the suite's seconds; the rest of the host is other", () => {
  const meter = new CpuMeter()
    .group("this process", () => [Deno.pid], { suite: true })
    .group("init", () => [1]);
  const a = meter.snapshot();
  const start = procStat(Deno.pid)!.own;
  while (procStat(Deno.pid)!.own - start < 0.3) { /* busy: 0.3 s of this process's CPU */ }
  const b = meter.snapshot();
  const w = meter.between(a, b);
  const mine = w.groups.find((g) => g.name === "this process")!;
  assert.ok(mine.cpuSeconds >= 0.29, `this process used ${mine.cpuSeconds} s`);
  assert.equal(w.suiteSeconds, mine.cpuSeconds);
  assert.deepEqual(w.groups.map((g) => g.name), ["this process", "init", "other"]);
});
