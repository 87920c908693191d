/**
 * The order saga as a pure state machine (no I/O): given the saga's state and
 * what just happened, it returns the new state and the commands to publish.
 * The order service stores the state and turns commands into outbox events
 * in the same transaction (services/order/saga_runner.ts).
 *
 * Flows (SPEC §4):
 * - parallel (§4.1): every step is requested at once;
 * - sequential (§4.3.2): stock, then coupon, then point, each after the
 *   previous one succeeded.
 * On any failure (or a deadline passing, which fails the steps still
 * waiting), the steps that succeeded are compensated in reverse order —
 * point, then coupon, then stock (§7.3) — one group after the other; the
 * order is CANCELLED when nothing is left to undo. A success that arrives
 * after the step was given up on is compensated too.
 *
 * @module
 */

export type StepKind = "stock" | "coupon" | "point";
export type StepState =
  | "PENDING" // not requested yet
  | "REQUESTED" // waiting for the participant
  | "SUCCEEDED"
  | "FAILED" // refused, or given up on (deadline)
  | "COMPENSATING" // undo requested
  | "COMPENSATED"; // undone
export type SagaStatus = "PENDING" | "COMPENSATING" | "COMPLETED" | "CANCELLED";
export type SagaMode = "parallel" | "sequential";

export interface Step {
  /** `stock:<line>`, `coupon` or `point`. */
  id: string;
  kind: StepKind;
  state: StepState;
  reason?: string;
}

export interface Saga {
  orderId: string;
  mode: SagaMode;
  status: SagaStatus;
  steps: Step[];
  /** Why the order was cancelled (the first failure). */
  reason?: string;
}

export type Command = { type: "request"; stepId: string } | { type: "compensate"; stepId: string };

export type SagaInput =
  | { type: "succeeded"; stepId: string }
  | { type: "failed"; stepId: string; reason: string }
  | { type: "compensated"; stepId: string }
  | { type: "deadline" };

export interface Transition {
  saga: Saga;
  commands: Command[];
  /** What happened, for the order's history (empty when nothing changed). */
  notes: string[];
}

/** The steps an order needs: one stock step per line, coupon and point when used. */
export function planSteps(lines: number, usesCoupon: boolean, usesPoints: boolean): Step[] {
  const steps: Step[] = Array.from({ length: lines }, (_, i) => ({
    id: `stock:${i + 1}`,
    kind: "stock" as const,
    state: "PENDING" as const,
  }));
  if (usesCoupon) steps.push({ id: "coupon", kind: "coupon", state: "PENDING" });
  if (usesPoints) steps.push({ id: "point", kind: "point", state: "PENDING" });
  return steps;
}

/** Sequential order of the forward steps (§4.3.2); stock lines form one stage. */
const FORWARD: readonly StepKind[] = ["stock", "coupon", "point"];
/** Compensation order (§7.3): the reverse. */
const BACKWARD: readonly StepKind[] = ["point", "coupon", "stock"];

/** Starts the saga: the first requests. */
export function start(orderId: string, mode: SagaMode, steps: Step[]): Transition {
  const saga: Saga = { orderId, mode, status: "PENDING", steps: steps.map((s) => ({ ...s })) };
  if (saga.steps.length === 0) {
    saga.status = "COMPLETED";
    return { saga, commands: [], notes: ["nothing to do: completed"] };
  }
  const toRequest = mode === "parallel" ? saga.steps : firstStage(saga.steps);
  return request(saga, toRequest, [`started (${mode})`]);
}

/** Applies one input; an input that changes nothing returns no notes. */
export function advance(current: Saga, input: SagaInput): Transition {
  const saga: Saga = { ...current, steps: current.steps.map((s) => ({ ...s })) };
  if (input.type === "deadline") return onDeadline(saga);
  const step = saga.steps.find((s) => s.id === input.stepId);
  if (!step) return { saga, commands: [], notes: [] };
  switch (input.type) {
    case "succeeded":
      return onSucceeded(saga, step);
    case "failed":
      return onFailed(saga, step, input.reason);
    case "compensated":
      return onCompensated(saga, step);
  }
}

function onSucceeded(saga: Saga, step: Step): Transition {
  if (step.state === "REQUESTED" && saga.status === "PENDING") {
    step.state = "SUCCEEDED";
    const notes = [`${step.id} succeeded`];
    if (saga.steps.every((s) => s.state === "SUCCEEDED")) {
      saga.status = "COMPLETED";
      return { saga, commands: [], notes: [...notes, "completed"] };
    }
    if (saga.mode === "sequential" && stageDone(saga, step.kind)) {
      const next = nextStage(saga, step.kind);
      if (next.length > 0) return request(saga, next, notes);
    }
    return { saga, commands: [], notes };
  }
  if (step.state === "REQUESTED" || step.state === "FAILED") {
    // Succeeded while the saga is already undoing, or after we gave up on
    // it (deadline): undo it too.
    step.state = "SUCCEEDED";
    return compensateNext(saga, [`${step.id} succeeded late: will be undone`]);
  }
  return { saga, commands: [], notes: [] }; // a repeated reply
}

function onFailed(saga: Saga, step: Step, reason: string): Transition {
  if (step.state !== "REQUESTED") return { saga, commands: [], notes: [] };
  step.state = "FAILED";
  step.reason = reason;
  const notes = [`${step.id} failed: ${reason}`];
  if (saga.status === "PENDING") {
    saga.reason = `${step.id}: ${reason}`;
    // Steps never requested (sequential) will never be: nothing to undo.
    for (const s of saga.steps) {
      if (s.state === "PENDING") s.state = "FAILED", s.reason = "not needed";
    }
  }
  return compensateNext(saga, notes);
}

function onCompensated(saga: Saga, step: Step): Transition {
  if (step.state !== "COMPENSATING") return { saga, commands: [], notes: [] };
  step.state = "COMPENSATED";
  return compensateNext(saga, [`${step.id} undone`]);
}

function onDeadline(saga: Saga): Transition {
  if (saga.status !== "PENDING") return { saga, commands: [], notes: [] };
  const waiting = saga.steps.filter((s) => s.state === "REQUESTED" || s.state === "PENDING");
  for (const s of waiting) {
    s.state = "FAILED";
    s.reason = s.reason ?? "no reply before the deadline";
  }
  saga.reason = "deadline passed";
  return compensateNext(saga, [
    `deadline passed: gave up on ${waiting.map((s) => s.id).join(", ")}`,
  ]);
}

/**
 * Undoes the next group of succeeded steps in reverse order, or finishes the
 * cancellation when nothing is left to undo or to wait for.
 */
function compensateNext(saga: Saga, notes: string[]): Transition {
  if (saga.status === "PENDING") saga.status = "COMPENSATING";
  // One group at a time: wait while a group is being undone.
  if (saga.steps.some((s) => s.state === "COMPENSATING")) return { saga, commands: [], notes };
  for (const kind of BACKWARD) {
    const group = saga.steps.filter((s) => s.kind === kind && s.state === "SUCCEEDED");
    if (group.length > 0) {
      for (const s of group) s.state = "COMPENSATING";
      return {
        saga,
        commands: group.map((s) => ({ type: "compensate" as const, stepId: s.id })),
        notes: [...notes, `undoing ${group.map((s) => s.id).join(", ")}`],
      };
    }
  }
  // Nothing to undo. Steps still REQUESTED (parallel) may yet succeed and
  // would then be undone; the order is cancelled only when none is left.
  if (saga.steps.some((s) => s.state === "REQUESTED")) return { saga, commands: [], notes };
  if (saga.status !== "CANCELLED") {
    saga.status = "CANCELLED";
    notes = [...notes, "cancelled"];
  }
  return { saga, commands: [], notes };
}

function request(saga: Saga, steps: Step[], notes: string[]): Transition {
  for (const s of steps) s.state = "REQUESTED";
  return {
    saga,
    commands: steps.map((s) => ({ type: "request" as const, stepId: s.id })),
    notes: [...notes, `requested ${steps.map((s) => s.id).join(", ")}`],
  };
}

function firstStage(steps: Step[]): Step[] {
  for (const kind of FORWARD) {
    const stage = steps.filter((s) => s.kind === kind);
    if (stage.length > 0) return stage;
  }
  return [];
}

function stageDone(saga: Saga, kind: StepKind): boolean {
  return saga.steps.filter((s) => s.kind === kind).every((s) => s.state === "SUCCEEDED");
}

function nextStage(saga: Saga, after: StepKind): Step[] {
  for (const kind of FORWARD.slice(FORWARD.indexOf(after) + 1)) {
    const stage = saga.steps.filter((s) => s.kind === kind);
    if (stage.length > 0) return stage;
  }
  return [];
}

/** True when the saga will change no more (final status and nothing pending). */
export function isSettled(saga: Saga): boolean {
  return (saga.status === "COMPLETED" || saga.status === "CANCELLED") &&
    !saga.steps.some((s) => s.state === "REQUESTED" || s.state === "COMPENSATING");
}
