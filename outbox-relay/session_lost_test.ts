import assert from "node:assert/strict";
import { judgeCheckpointAfterRetry, SessionLostError } from "./session_lost.ts";

Deno.test("judgeCheckpointAfterRetry() says committed when the checkpoint is the batch's end", () => {
  assert.equal(judgeCheckpointAfterRetry(100n, 200n, 200n), "committed");
  assert.equal(judgeCheckpointAfterRetry(null, 200n, 200n), "committed");
});

Deno.test("judgeCheckpointAfterRetry() says send again when the checkpoint did not move", () => {
  assert.equal(judgeCheckpointAfterRetry(100n, 100n, 200n), "not-committed");
  assert.equal(judgeCheckpointAfterRetry(null, null, 200n), "not-committed");
});

Deno.test("judgeCheckpointAfterRetry() ends the session when another relay published further", () => {
  // Beyond the batch, or into it: either way what we hold was published by another.
  assert.throws(() => judgeCheckpointAfterRetry(100n, 300n, 200n), SessionLostError);
  assert.throws(() => judgeCheckpointAfterRetry(100n, 150n, 200n), SessionLostError);
  assert.throws(() => judgeCheckpointAfterRetry(null, 150n, 200n), /another relay published/);
});

Deno.test("judgeCheckpointAfterRetry() ends the session when the checkpoint went back or vanished", () => {
  assert.throws(() => judgeCheckpointAfterRetry(100n, 50n, 200n), /went back/);
  assert.throws(() => judgeCheckpointAfterRetry(100n, null, 200n), /went back/);
});
