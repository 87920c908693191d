/**
 * Consumers wake at once (issue #16 item 3), against the real brokers: a
 * read_committed consumer waiting in a long-poll fetch gets a record as soon
 * as its transaction commits — the broker completes the waiting fetch when
 * the partition's last stable offset moves — not when the wait runs out.
 * (bench/consumer_wake.ts measures the same with more samples.)
 */
import assert from "node:assert/strict";
import { measureConsumerWake } from "../bench/consumer_wake.ts";

Deno.test("a waiting fetch returns a record as soon as its transaction commits", async () => {
  const maxWaitMs = 5_000;
  const f = await measureConsumerWake({
    samples: 20,
    rate: 10,
    partitions: 6,
    concurrency: 1,
    handlerMs: 0,
    maxWaitMs,
  });
  console.log(JSON.stringify(f));
  assert.equal(f.received, f.samples, "every committed record reached the handler");
  // Woken by the wait's end, the median would be about half the wait (2.5 s);
  // the bound is loose because the machine may be busy.
  assert.ok(f.wake_p50_ms < 250, `commit → handler p50 ${f.wake_p50_ms} ms`);
});
