import assert from "node:assert/strict";
import {
  advance,
  type Command,
  isSettled,
  planSteps,
  type Saga,
  type SagaInput,
  start,
} from "./saga.ts";

function run(saga: Saga, ...inputs: SagaInput[]): { saga: Saga; commands: Command[] } {
  const commands: Command[] = [];
  for (const input of inputs) {
    const t = advance(saga, input);
    saga = t.saga;
    commands.push(...t.commands);
  }
  return { saga, commands };
}
const ok = (stepId: string): SagaInput => ({ type: "succeeded", stepId });
const no = (stepId: string, reason = "refused"): SagaInput => ({ type: "failed", stepId, reason });
const undone = (stepId: string): SagaInput => ({ type: "compensated", stepId });
const ids = (cs: Command[], type: Command["type"]) =>
  cs.filter((c) => c.type === type).map((c) => c.stepId);

Deno.test("parallel: every step is requested at once; all succeeded → COMPLETED", () => {
  const t = start("o1", "parallel", planSteps(2, true, true));
  assert.deepEqual(ids(t.commands, "request"), ["stock:1", "stock:2", "coupon", "point"]);
  const { saga } = run(t.saga, ok("point"), ok("stock:2"), ok("coupon"), ok("stock:1"));
  assert.equal(saga.status, "COMPLETED");
  assert.ok(isSettled(saga));
});

Deno.test("parallel: one failure undoes exactly the succeeded steps, point → coupon → stock", () => {
  const t = start("o1", "parallel", planSteps(2, true, true));
  let r = run(
    t.saga,
    ok("stock:1"),
    ok("coupon"),
    ok("point"),
    no("stock:2", "insufficient_stock"),
  );
  assert.equal(r.saga.status, "COMPENSATING");
  assert.deepEqual(ids(r.commands, "compensate"), ["point"]);
  r = run(r.saga, undone("point"));
  assert.deepEqual(ids(r.commands, "compensate"), ["coupon"]);
  r = run(r.saga, undone("coupon"));
  assert.deepEqual(ids(r.commands, "compensate"), ["stock:1"]);
  r = run(r.saga, undone("stock:1"));
  assert.equal(r.saga.status, "CANCELLED");
  assert.equal(r.saga.reason, "stock:2: insufficient_stock");
  assert.ok(isSettled(r.saga));
});

Deno.test("parallel: a step still waiting when another fails is undone if it succeeds later", () => {
  const t = start("o1", "parallel", planSteps(1, false, true));
  let r = run(t.saga, no("stock:1"));
  assert.equal(
    r.saga.status,
    "COMPENSATING",
    "not cancelled while the point step may still succeed",
  );
  r = run(r.saga, ok("point"));
  assert.deepEqual(ids(r.commands, "compensate"), ["point"]);
  r = run(r.saga, undone("point"));
  assert.equal(r.saga.status, "CANCELLED");
});

Deno.test("sequential: stock, then coupon, then point, each after the previous succeeded", () => {
  const t = start("o1", "sequential", planSteps(2, true, true));
  assert.deepEqual(ids(t.commands, "request"), ["stock:1", "stock:2"]);
  let r = run(t.saga, ok("stock:1"));
  assert.deepEqual(r.commands, []);
  r = run(r.saga, ok("stock:2"));
  assert.deepEqual(ids(r.commands, "request"), ["coupon"]);
  r = run(r.saga, ok("coupon"));
  assert.deepEqual(ids(r.commands, "request"), ["point"]);
  r = run(r.saga, ok("point"));
  assert.equal(r.saga.status, "COMPLETED");
});

Deno.test("sequential: a coupon failure undoes the stock and never asks for points", () => {
  const t = start("o1", "sequential", planSteps(1, true, true));
  let r = run(t.saga, ok("stock:1"), no("coupon", "already_used"));
  assert.deepEqual(ids(r.commands, "compensate"), ["stock:1"]);
  assert.equal(r.saga.steps.find((s) => s.id === "point")!.state, "FAILED");
  r = run(r.saga, undone("stock:1"));
  assert.equal(r.saga.status, "CANCELLED");
  assert.ok(!r.commands.some((c) => c.stepId === "point"));
});

Deno.test("deadline: waiting steps are given up, succeeded ones undone; a late success is undone too", () => {
  const t = start("o1", "parallel", planSteps(1, true, false));
  let r = run(t.saga, ok("stock:1"), { type: "deadline" });
  assert.deepEqual(ids(r.commands, "compensate"), ["stock:1"]);
  r = run(r.saga, undone("stock:1"));
  assert.equal(r.saga.status, "CANCELLED");
  assert.equal(r.saga.reason, "deadline passed");
  r = run(r.saga, ok("coupon"));
  assert.deepEqual(ids(r.commands, "compensate"), ["coupon"], "late success compensated");
  assert.equal(r.saga.status, "CANCELLED");
  assert.ok(!isSettled(r.saga));
  r = run(r.saga, undone("coupon"));
  assert.ok(isSettled(r.saga));
});

Deno.test("repeated and unknown replies change nothing", () => {
  const t = start("o1", "parallel", planSteps(1, false, false));
  const once = run(t.saga, ok("stock:1"));
  for (
    const input of [
      ok("stock:1"),
      no("stock:1"),
      undone("stock:1"),
      ok("nope"),
      { type: "deadline" } as const,
    ]
  ) {
    const again = advance(once.saga, input);
    assert.deepEqual(again.saga, once.saga);
    assert.deepEqual(again.commands, []);
    assert.deepEqual(again.notes, []);
  }
});

Deno.test("randomized: every saga settles COMPLETED with all steps done, or CANCELLED with none", () => {
  for (let n = 0; n < 2_000; n++) {
    const mode = Math.random() < 0.5 ? "parallel" : "sequential";
    const t = start(
      `o${n}`,
      mode,
      planSteps(1 + Math.floor(Math.random() * 4), Math.random() < 0.5, Math.random() < 0.5),
    );
    let saga = t.saga;
    // Outstanding participant work: requests and undo requests in flight.
    let inflight: Command[] = [...t.commands];
    let deadlineSent = false;
    for (let guard = 0; guard < 200 && (inflight.length > 0 || !isSettled(saga)); guard++) {
      if (!deadlineSent && Math.random() < 0.03) {
        deadlineSent = true;
        const d = advance(saga, { type: "deadline" });
        saga = d.saga;
        inflight.push(...d.commands);
        continue;
      }
      if (inflight.length === 0) break;
      const i = Math.floor(Math.random() * inflight.length);
      const c = inflight[i];
      inflight = inflight.filter((_, j) => j !== i);
      const input: SagaInput = c.type === "compensate"
        ? undone(c.stepId)
        : Math.random() < 0.8
        ? ok(c.stepId)
        : no(c.stepId);
      const next = advance(saga, input);
      saga = next.saga;
      inflight.push(...next.commands);
    }
    assert.ok(isSettled(saga), `saga ${n} settled: ${JSON.stringify(saga)}`);
    if (saga.status === "COMPLETED") assert.ok(saga.steps.every((s) => s.state === "SUCCEEDED"));
    else {
      assert.equal(saga.status, "CANCELLED");
      assert.ok(
        saga.steps.every((s) => s.state !== "SUCCEEDED"),
        `nothing left applied: ${JSON.stringify(saga)}`,
      );
    }
  }
});
