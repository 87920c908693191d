/**
 * Replay from the event store (issue #4, SPEC §11): stored outbox events of
 * one aggregate are published again with their original event ids, marked
 * as replayed, and nothing else is sent.
 */
import assert from "node:assert/strict";
import { valueText } from "../../kafka/mod.ts";
import { sleep } from "../support/dev.ts";
import { Collector, testKafka } from "../support/kafka.ts";
import { TestOutbox } from "../support/relay.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function replayCli(...args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}outbox-relay/replay.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.ok(out.success, text);
  return text;
}

Deno.test({
  name:
    "replay --aggregate re-sends exactly that aggregate's stored events, in order, with their ids",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // No relay runs: the events exist only in the event store.
    const outbox = await new TestOutbox().create(3);
    const collector = await new Collector(testKafka("replay"), [outbox.topic]).start();
    try {
      const mine = [];
      for (let seq = 1; seq <= 3; seq++) {
        mine.push(...await outbox.insert([{ key: "agg-1", payload: { key: "agg-1", seq } }]));
        await outbox.insert([{ key: "agg-2", payload: { key: "agg-2", seq } }]);
      }
      const dry = await replayCli(
        "--schema",
        outbox.schema,
        "--aggregate",
        "test:agg-1",
        "--dry-run",
      );
      assert.match(dry, /3 stored event\(s\) match/);
      assert.equal(collector.messages.length, 0, "a dry run sends nothing");

      const out = await replayCli("--schema", outbox.schema, "--aggregate", "test:agg-1");
      assert.equal(JSON.parse(out.trim().split("\n").at(-1)!).published, 3);
      await collector.until("the replayed events", (ms) => ms.length >= 3);
      await sleep(500);
      assert.deepEqual(collector.messages.map((m) => m.headers["event-id"]), mine);
      assert.deepEqual(collector.messages.map((m) => JSON.parse(valueText(m)!).payload.seq), [
        1,
        2,
        3,
      ]);
      assert.ok(collector.messages.every((m) => m.headers["replayed-at"] && m.key === "agg-1"));
    } finally {
      await collector.stop();
      await outbox.drop();
    }
  },
});
