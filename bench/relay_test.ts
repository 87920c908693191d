/**
 * bench:relay, run at the smallest sizes: its last line is one JSON object
 * with every figure issue #16 names, and each target with whether it is met.
 */
import assert from "node:assert/strict";
import { runBench } from "./testing.ts";

Deno.test("bench:relay's last line reports requests per transaction, peak RSS and exactly-once against issue 16's targets", async () => {
  const { code, stdout: out, all: why } = await runBench("relay.ts", {
    BENCH_BACKLOG: "300",
    BENCH_RAW: "0",
    BENCH_CONCURRENT: "0",
    BENCH_RATE: "200",
    BENCH_SECONDS: "3",
    BENCH_WARMUP_SECONDS: "1",
  }, 240_000);
  assert.equal(code, 0, why);
  const last = JSON.parse(out.trim().split("\n").at(-1)!);
  for (const field of ["events_per_s", "p50_ms", "p99_ms", "kafka_requests_per_tx", "rss_mb"]) {
    assert.ok(
      typeof last[field] === "number" && last[field] > 0,
      `${field}: ${last[field]}\n${why}`,
    );
    assert.equal(typeof last.targets_met[field], "boolean", `${field} has no target\n${why}`);
  }
  assert.deepEqual(last.targets, {
    p50_ms: 25,
    p99_ms: 60,
    events_per_s: 15_000,
    kafka_requests_per_tx: 8,
    rss_mb: 150,
    exactly_once: true,
  });
  assert.equal(last.exactly_once_ok, true, why);
  assert.equal(last.targets_met.exactly_once, true, why);
  // Requests of the relay process by API, e.g. {"Produce": 12, "EndTxn": 6, …}.
  assert.ok(last.kafka_requests_by_api.Produce > 0, why);
  // The peak covers the start-up: never below what it was at the first publish.
  assert.ok(last.rss_mb >= last.rss_mb_at_first_publish, why);
});
