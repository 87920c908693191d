/**
 * A saga's story for people: the order's history (services/order, one note
 * per thing that happened, with the reply event that caused it) turned into
 * timeline rows that say what kind of thing it was, which service it came
 * from or went to, which event, when (ms after the order was placed) and, for
 * a failure, why. Pure: no I/O.
 *
 * @module
 */

/** One history entry as `GET /orders/:id` returns it. */
export interface HistoryEntry {
  at: string;
  note: string;
  detail: unknown;
}

/** One of the order's own outbox events (`GET /orders/:id/events`). */
export interface OrderEvent {
  eventId: string;
  type: string;
  topic: string;
  key: string;
  at: string;
  traceparent: string | null;
}

export type RowKind =
  | "placed"
  | "started"
  | "request"
  | "reply"
  | "failure"
  | "compensation"
  | "compensated"
  | "deadline"
  | "outcome";

export interface TimelineRow {
  at: string;
  /** Milliseconds after the order was placed. */
  offsetMs: number;
  kind: RowKind;
  /** The service the row comes from (a reply's sender; the order service otherwise). */
  from: string;
  /** For requests and undos: the services asked. */
  to: string[];
  /** The saga steps concerned (`stock:1`, `coupon`, `point`). */
  steps: string[];
  note: string;
  /** The event behind the row: a reply's type and id, or the requests' types. */
  events: { type: string; id?: string; topic?: string }[];
  /** Why a step failed. */
  reason?: string;
}

const SERVICE_OF_STEP: Record<string, string> = {
  stock: "inventory",
  coupon: "coupon",
  point: "point",
};

/** The participant that runs a step: `stock:2` → inventory. */
export function serviceOfStep(step: string): string {
  return SERVICE_OF_STEP[step.split(":")[0]] ?? "order";
}

/** The participant that sent a reply event: `StockDeducted` → inventory. */
export function serviceOfEvent(type: string): string {
  if (type.startsWith("Stock")) return "inventory";
  if (type.startsWith("Coupon")) return "coupon";
  if (type.startsWith("Point")) return "point";
  return "order";
}

const REQUEST_EVENT: Record<string, string> = {
  stock: "StockDeductionRequested",
  coupon: "CouponUsageRequested",
  point: "PointDeductionRequested",
};
const UNDO_EVENT: Record<string, string> = {
  stock: "StockRestoreRequested",
  coupon: "CouponRestoreRequested",
  point: "PointRestoreRequested",
};

function stepsIn(list: string): string[] {
  return list.split(",").map((s) => s.trim()).filter(Boolean);
}

function replyOf(detail: unknown): { type: string; id?: string } | undefined {
  if (!detail || typeof detail !== "object") return undefined;
  const d = detail as { event?: unknown; eventId?: unknown };
  if (typeof d.event !== "string") return undefined;
  return { type: d.event, id: typeof d.eventId === "string" ? d.eventId : undefined };
}

/**
 * The order's own events matching a request or undo row: same kind of event
 * for the steps, written at that moment (same transaction, so within a few
 * milliseconds of the history entry).
 */
function matchEvents(
  events: readonly OrderEvent[],
  at: number,
  types: string[],
  used: Set<string>,
): { type: string; id?: string; topic?: string }[] {
  const out: { type: string; id?: string; topic?: string }[] = [];
  for (const type of types) {
    const e = events.find((e) =>
      e.type === type && !used.has(e.eventId) && Math.abs(Date.parse(e.at) - at) < 2_000
    );
    if (e) {
      used.add(e.eventId);
      out.push({ type, id: e.eventId, topic: e.topic });
    } else {
      out.push({ type });
    }
  }
  return out;
}

/** The timeline rows of an order's history, in the order they happened. */
export function buildTimeline(
  history: readonly HistoryEntry[],
  events: readonly OrderEvent[] = [],
): TimelineRow[] {
  if (history.length === 0) return [];
  const start = Date.parse(history[0].at);
  const used = new Set<string>();
  return history.map((h): TimelineRow => {
    const at = Date.parse(h.at);
    const base = {
      at: h.at,
      offsetMs: at - start,
      from: "order",
      to: [] as string[],
      steps: [] as string[],
      note: h.note,
      events: [] as TimelineRow["events"],
    };
    const reply = replyOf(h.detail);
    let m: RegExpExecArray | null;
    if (h.note === "order placed") {
      const placed = matchEvents(events, at, ["OrderPlaced"], used);
      return { ...base, kind: "placed", events: placed };
    }
    if ((m = /^started \((\w+)\)$/.exec(h.note))) {
      return { ...base, kind: "started" };
    }
    if ((m = /^requested (.+)$/.exec(h.note))) {
      const steps = stepsIn(m[1]);
      const types = steps.map((s) => REQUEST_EVENT[s.split(":")[0]] ?? "request");
      return {
        ...base,
        kind: "request",
        steps,
        to: [...new Set(steps.map(serviceOfStep))],
        events: matchEvents(events, at, types, used),
      };
    }
    if ((m = /^undoing (.+)$/.exec(h.note))) {
      const steps = stepsIn(m[1]);
      const types = steps.map((s) => UNDO_EVENT[s.split(":")[0]] ?? "undo");
      return {
        ...base,
        kind: "compensation",
        steps,
        to: [...new Set(steps.map(serviceOfStep))],
        events: matchEvents(events, at, types, used),
      };
    }
    if ((m = /^(\S+) succeeded$/.exec(h.note))) {
      return {
        ...base,
        kind: "reply",
        steps: [m[1]],
        from: reply ? serviceOfEvent(reply.type) : serviceOfStep(m[1]),
        events: reply ? [reply] : [],
      };
    }
    if ((m = /^(\S+) failed: (.*)$/.exec(h.note))) {
      return {
        ...base,
        kind: "failure",
        steps: [m[1]],
        from: reply ? serviceOfEvent(reply.type) : serviceOfStep(m[1]),
        events: reply ? [reply] : [],
        reason: m[2],
      };
    }
    if ((m = /^(\S+) undone$/.exec(h.note))) {
      return {
        ...base,
        kind: "compensated",
        steps: [m[1]],
        from: reply ? serviceOfEvent(reply.type) : serviceOfStep(m[1]),
        events: reply ? [reply] : [],
      };
    }
    if ((m = /^deadline passed: gave up on (.*)$/.exec(h.note))) {
      return {
        ...base,
        kind: "deadline",
        steps: stepsIn(m[1]),
        reason: "no reply before the deadline",
      };
    }
    if (h.note === "completed" || h.note === "cancelled" || h.note === "nothing to do: completed") {
      const type = h.note === "cancelled" ? "OrderCancelled" : "OrderCompleted";
      return { ...base, kind: "outcome", events: matchEvents(events, at, [type], used) };
    }
    return { ...base, kind: "outcome" };
  });
}

/** The trace id in a W3C traceparent (`00-<trace>-<span>-<flags>`); null for none or all zeros. */
export function traceIdOf(traceparent: string | null | undefined): string | null {
  const m = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceparent ?? "");
  if (!m || /^0+$/.test(m[1])) return null;
  return m[1];
}
