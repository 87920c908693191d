/**
 * The dead-letter admin API through `app.request` (no server), against the
 * real Postgres: storing records once, listing with filters, inspecting,
 * resolving, who may do what. Replays, which need Kafka, are in
 * consumer_test.ts.
 */
import assert from "node:assert/strict";
import { createKafka, IdempotentProducer } from "../../kafka/mod.ts";
import { issueToken } from "../../kit/mod.ts";
import { handleArrival } from "./handlers/arrival.ts";
import { deadLetterHttp } from "./http.ts";
import { DeadLetterFixture, RELAY_DLQ } from "./testing.ts";

const SECRET = crypto.randomUUID() + crypto.randomUUID();
const admin = await issueToken(SECRET, { sub: "ops-1", roles: ["admin"] }, 300);
const customer = await issueToken(SECRET, { sub: "user-1" }, 300);
// Never connected: these tests refuse every replay before anything is sent.
const producer = new IdempotentProducer(createKafka({ brokers: ["127.0.0.1:1"], clientId: "t" }));

function client(f: DeadLetterFixture) {
  const app = deadLetterHttp({ ...f.deps(producer), jwtSecret: SECRET });
  return async (method: string, path: string, opts: { token?: string; body?: unknown } = {}) => {
    const res = await app.request(path, {
      method,
      headers: {
        Authorization: `Bearer ${opts.token ?? admin}`,
        ...(opts.body !== undefined ? { "Content-Type": "application/json" } : {}),
      },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
    // deno-lint-ignore no-explicit-any
    return { status: res.status, body: await res.json() as any };
  };
}

Deno.test("a dead letter is stored once, listed, inspected and resolved", async () => {
  await using f = await DeadLetterFixture.create();
  const http = client(f);
  const record = f.record();
  const first = await handleArrival(f.deps(producer), record);
  assert.equal(first.kind, "new");
  // The same DLQ record read again (a crash before the commit): nothing changes.
  assert.equal((await handleArrival(f.deps(producer), record)).kind, "duplicate");
  // The same failure written twice to the DLQ (another DLQ offset): nothing changes.
  assert.equal(
    (await handleArrival(f.deps(producer), {
      ...record,
      offset: String(Number(record.offset) + 1),
    }))
      .kind,
    "duplicate",
  );
  await handleArrival(
    f.deps(producer),
    f.record({ eventId: null, reason: "not-json", value: "{" }),
  );
  assert.equal((await f.rows()).length, 2);
  assert.ok(f.log.lines.some((l) => l.level === "error" && l.message === "dead letter received"));

  const list = await http("GET", `/admin/dead-letters?topic=${f.topic}`);
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.items.map((i: { status: string }) => i.status), [
    "NON_RETRYABLE",
    "PENDING",
  ]);
  const pending = await http("GET", `/admin/dead-letters?topic=${f.topic}&status=PENDING&limit=1`);
  assert.equal(pending.body.items.length, 1);
  const item = pending.body.items[0];
  assert.deepEqual(
    [item.reason, item.errorClass, item.errorMessage, item.attempts, item.originalTopic],
    ["handler-failed", "TypeError", "boom", 3, f.topic],
  );
  assert.match(item.traceparent, /^00-/);

  const one = await http("GET", `/admin/dead-letters/${item.id}`);
  assert.equal(one.status, 200);
  assert.equal(one.body.valueEncoding, "utf8");
  assert.equal(JSON.parse(one.body.value).type, "Test");
  assert.equal(one.body.headers["original-topic"], f.topic);
  assert.deepEqual(one.body.history.map((h: { action: string }) => h.action), ["received"]);

  const resolved = await http("POST", `/admin/dead-letters/${item.id}/resolve`, {
    body: { note: "fixed by hand" },
  });
  assert.equal(resolved.status, 200);
  assert.deepEqual([resolved.body.status, resolved.body.resolvedBy, resolved.body.note], [
    "RESOLVED",
    "ops-1",
    "fixed by hand",
  ]);
  const again = await http("POST", `/admin/dead-letters/${item.id}/resolve`);
  assert.equal(again.status, 200);
  const refused = await http("POST", `/admin/dead-letters/${item.id}/replay`);
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error.code, "not_replayable");

  const stats = await http("GET", "/admin/dead-letters/stats");
  assert.equal(stats.status, 200);
  assert.deepEqual(stats.body.byTopic[f.topic], { NON_RETRYABLE: 1, RESOLVED: 1 });
});

Deno.test("the relay's dead letters are stored and cannot be replayed from here", async () => {
  await using f = await DeadLetterFixture.create();
  const http = client(f);
  const relayRecord = {
    ...f.record(),
    topic: RELAY_DLQ,
    headers: {
      "dlq-reason": "unknown-topic",
      "event-id": crypto.randomUUID(),
      "original-topic": f.topic,
    },
  };
  const out = await handleArrival(f.deps(producer), relayRecord);
  assert.equal(out.kind, "new");
  const id = out.kind === "new" ? out.letter.id : "";
  const res = await http("POST", `/admin/dead-letters/${id}/replay`);
  assert.equal(res.status, 409);
  assert.match(res.body.error.message, /deno task replay --event/);
});

Deno.test("admin only; bad filters are 422; unknown ids are 404; nothing is written", async () => {
  await using f = await DeadLetterFixture.create();
  const http = client(f);
  await handleArrival(f.deps(producer), f.record());
  const [row] = await f.rows();
  for (
    const [method, path] of [
      ["GET", "/admin/dead-letters"],
      ["GET", `/admin/dead-letters/${row.id}`],
      ["POST", `/admin/dead-letters/${row.id}/replay`],
      ["POST", `/admin/dead-letters/${row.id}/resolve`],
      ["POST", "/admin/dead-letters/replay"],
    ] as const
  ) {
    assert.equal((await http(method, path, { token: customer })).status, 403, path);
    assert.equal((await http(method, path, { token: "x.y.z" })).status, 401, path);
  }
  for (const q of ["status=LOST", "limit=0", "limit=201", "before=abc", "colour=red"]) {
    const res = await http("GET", `/admin/dead-letters?${q}`);
    assert.equal(res.status, 422, q);
    assert.equal(res.body.error.code, "validation_failed");
  }
  for (const id of ["999999999999", "abc", "1;drop table dead_letters", "-1"]) {
    const path = `/admin/dead-letters/${encodeURIComponent(id)}`;
    assert.equal((await http("GET", path)).status, 404, id);
    assert.equal((await http("POST", `${path}/resolve`)).status, 404, id);
    assert.equal((await http("POST", `${path}/replay`)).status, 404, id);
  }
  const bad = await http("POST", `/admin/dead-letters/${row.id}/resolve`, { body: { note: 5 } });
  assert.equal(bad.status, 422);
  const rows = await f.rows();
  assert.deepEqual(rows.map((r) => r.status), ["PENDING"]);
});

Deno.test("GET /metrics has the dead-letter figures", async () => {
  await using f = await DeadLetterFixture.create();
  await handleArrival(f.deps(producer), f.record());
  const app = deadLetterHttp({ ...f.deps(producer), jwtSecret: SECRET });
  const res = await app.request("/metrics");
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.match(
    text,
    new RegExp(`deadletters_received_total\\{topic="${f.topic}",reason="handler-failed"\\} 1`),
  );
  assert.match(text, /deadletters_current\{status="PENDING"\} \d+/);
});
