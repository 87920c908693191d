import assert from "node:assert/strict";
import {
  assertNotBehindCheckpoint,
  assertSlotNotLost,
  assertSlotNotRecreated,
  SlotLostError,
} from "./slot_loss.ts";

const at = (iso: string) => new Date(iso);
const cp = (lsn: bigint, slotBounded = true) => ({
  lsn,
  commitTime: at("2026-01-01T00:00:10Z"),
  slotBounded,
});

Deno.test("a missing slot is made on a first start, refused once a relay published through it", () => {
  assertSlotNotLost("s", false, null);
  assertSlotNotLost("s", true, { confirmedLsn: "0/10", updatedAt: new Date() });
  assert.throws(
    () => assertSlotNotLost("s", false, { confirmedLsn: "0/10", updatedAt: new Date() }),
    (err) => err instanceof SlotLostError && err.reason === "slot_missing",
  );
});

Deno.test("a slot starting past the checkpoint is a re-created one", () => {
  assertSlotNotRecreated("s", 100n, cp(100n)); // where the last relay confirmed
  assertSlotNotRecreated("s", 50n, cp(100n)); // behind: Postgres re-sends, the relay skips
  assertSlotNotRecreated("s", 500n, null); // first start
  assert.throws(
    () => assertSlotNotRecreated("s", 101n, cp(100n)),
    (err) =>
      err instanceof SlotLostError && err.reason === "slot_recreated" &&
      /deno task rebaseline/.test(err.message),
  );
});

Deno.test("a checkpoint of a relay from before issue 15 gives no verdict on the slot", () => {
  // Such relays confirmed idle positions past their checkpoint.
  assertSlotNotRecreated("s", 500n, cp(100n, false));
});

Deno.test("a transaction at or below the checkpoint that committed later means the WAL is behind", () => {
  const checkpoint = { lsn: 100n, commitTime: at("2026-01-01T00:00:10Z") };
  // Re-sent after a restart: covered.
  assertNotBehindCheckpoint(
    { commitEndLsn: 90n, commitTime: at("2026-01-01T00:00:09Z") },
    checkpoint,
  );
  assertNotBehindCheckpoint(
    { commitEndLsn: 100n, commitTime: at("2026-01-01T00:00:10Z") },
    checkpoint,
  );
  // New: past the checkpoint.
  assertNotBehindCheckpoint(
    { commitEndLsn: 101n, commitTime: at("2026-01-01T00:00:11Z") },
    checkpoint,
  );
  assert.throws(
    () =>
      assertNotBehindCheckpoint(
        { commitEndLsn: 90n, commitTime: at("2026-01-01T00:00:11Z") },
        checkpoint,
      ),
    (err) => err instanceof SlotLostError && err.reason === "wal_behind",
  );
  // No commit time recorded (older relays) or no checkpoint: no verdict.
  assertNotBehindCheckpoint({ commitEndLsn: 90n, commitTime: at("2030-01-01T00:00:00Z") }, {
    lsn: 100n,
    commitTime: null,
  });
  assertNotBehindCheckpoint({ commitEndLsn: 90n, commitTime: new Date() }, {
    lsn: null,
    commitTime: null,
  });
});
