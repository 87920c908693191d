/**
 * bench:saga measures its own suite, so it must be alone with it: these run
 * the real command next to one foreign process each and expect a refusal
 * before anything is measured. They start suite processes: run them under
 * the end-to-end lock.
 */
import assert from "node:assert/strict";
import { ManagedProcess, testPort } from "../tests/support/process.ts";
import { runBench } from "./testing.ts";

/** Runs `deno task bench:saga` with the smallest load; its exit code and everything it printed. */
async function runSagaBench(): Promise<{ code: number; out: string }> {
  const { code, all } = await runBench("saga.ts", {
    BENCH_SECONDS: "1",
    BENCH_COMPARE_SECONDS: "0",
    BENCH_WARMUP_SECONDS: "0",
    BENCH_CONCURRENCY: "2",
    BENCH_PRODUCTS: "3",
    BENCH_LEADERS: "asis",
  }, 180_000);
  return { code, out: all };
}

async function withForeign(p: ManagedProcess, f: () => Promise<void>): Promise<void> {
  p.start();
  try {
    await p.ready(60_000);
    await f();
  } finally {
    await p.stop();
  }
}

Deno.test("bench:saga refuses to run while another inventory instance shares its consumer group", async () => {
  const foreign = new ManagedProcess({
    name: "foreign-inventory",
    script: "services/inventory/main.ts",
    port: testPort(),
    env: {},
  }).withPortEnv("INVENTORY_HTTP_PORT");
  await withForeign(foreign, async () => {
    const { code, out } = await runSagaBench();
    assert.notEqual(code, 0, `the bench ran beside a foreign inventory instance:\n${out}`);
    assert.match(out, /consumer group inventory-service has \d+ member/, out);
    assert.match(out, /\.\/dev down/, out);
    assert.doesNotMatch(out, /starting the suite/, out);
  });
});

Deno.test("bench:saga refuses to run while another relay holds the replication slot", async () => {
  const foreign = new ManagedProcess({
    name: "foreign-relay",
    script: "outbox-relay/main.ts",
    port: testPort(),
    env: { RELAY_INSTANCE_ID: `foreign-relay-${Deno.pid}` },
  }).withPortEnv("RELAY_HTTP_PORT");
  await withForeign(foreign, async () => {
    // Ready means listening; the slot is held once it is active.
    for (let i = 0; i < 100; i++) {
      const h = await foreign.get<{ state: string }>("/health");
      if (h?.state === "active") break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const { code, out } = await runSagaBench();
    assert.notEqual(code, 0, `the bench ran while a foreign relay held the slot:\n${out}`);
    assert.match(out, /replication slot outbox_relay is held by another relay/, out);
    assert.doesNotMatch(out, /starting the suite/, out);
  });
});
