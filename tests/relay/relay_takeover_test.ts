/**
 * Outbox relay, issue 15 item 2: a relay that lost its session must neither
 * fence the relay that took over nor publish what it still holds. Relay A's
 * commits fail (a broker error) and A backs off; A is paused (GC, SIGSTOP)
 * and Postgres drops its walsender; B takes the slot and publishes further;
 * A wakes with its commits working again, before it has heard from Postgres
 * (its connections go through a proxy the test freezes, as a partition would).
 */
import assert from "node:assert/strict";
import { pgAddress } from "../../kit/env.ts";
import { eventually, sleep } from "../support/dev.ts";
import {
  assertExactlyOnceInOrder,
  checkpointHistory,
  RelayProcess,
  TestOutbox,
  writeEvents,
} from "../support/relay.ts";
import { FreezableProxy } from "../support/tcp_proxy.ts";

const chaos = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name:
    "a relay that failed to commit and lost the slot unawares neither fences the new active one nor publishes twice, and the checkpoint never decreases",
  ...chaos,
  fn: async () => {
    const outbox = await new TestOutbox().create();
    const faultFile = `${await Deno.makeTempDir()}/fail-commits`;
    // A reaches Postgres through a proxy the test can freeze.
    const proxy = new FreezableProxy(pgAddress().port);
    const a = new RelayProcess(outbox, "relay-a", {
      RELAY_TEST_FAIL_COMMITS_FILE: faultFile,
      PG_PORT: String(proxy.port),
    });
    const b = new RelayProcess(outbox, "relay-b");
    a.start();
    try {
      await a.waitState("active");
      b.start();
      await b.waitState("standby");
      const writers = writeEvents(outbox, { total: 10_000, writers: 4, paceMs: 50 });
      await sleep(1_500);

      // A's commit fails: it backs off...
      await Deno.writeTextFile(faultFile, "");
      await eventually(
        "A's commit to fail",
        () => Promise.resolve(/commit failed on purpose/.test(a.logs()) ? true : undefined),
        10_000,
        20,
      );
      // ...is paused and cut off from Postgres, which drops its walsender.
      a.signal("SIGSTOP");
      proxy.freeze();
      const [{ pid }] = await outbox.sql<{ pid: number }[]>`
        select active_pid as pid from pg_replication_slots where slot_name = ${outbox.slot}`;
      await outbox.sql`select pg_terminate_backend(${pid})`;
      // B takes the slot and publishes further than A got.
      await b.waitState("active", 15_000);
      await sleep(3_000);
      // A wakes, its commits working again, before it hears of its loss.
      await Deno.remove(faultFile);
      a.signal("SIGCONT");
      await sleep(6_000);
      proxy.thaw();
      await writers;

      assert.equal(await assertExactlyOnceInOrder(outbox), 10_000);
      const history = await checkpointHistory(outbox.slot);
      const back = history.findIndex((lsn, i) => i > 0 && lsn < history[i - 1]);
      assert.equal(
        back,
        -1,
        `the checkpoint moved back from ${history[back - 1]} to ${history[back]} (record ${back})`,
      );
      assert.doesNotMatch(b.logs(), /taken over by a newer producer/, "A must not fence B");
      assert.equal((await b.health())?.state, "active", "B is still the active relay");
    } finally {
      a.signal("SIGCONT");
      proxy.close();
      await Promise.all([a.stop(), b.stop()]);
      await Deno.remove(faultFile).catch(() => {});
      await outbox.drop();
    }
  },
});
