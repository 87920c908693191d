/**
 * Issue #8: one trace per order saga, found through Jaeger's query API, and
 * every process's Prometheus metrics — on real processes (relay, order,
 * inventory, coupon, point, each with Deno's built-in OpenTelemetry as
 * tests/support/process.ts starts them) and the real infrastructure.
 *
 * For a completed and for a compensated order, the trace holds spans of the
 * order, relay, inventory, coupon and point processes; every span but the
 * root (the HTTP request that placed the order) has its parent in the trace;
 * the chains are the saga's: order's HTTP span → relay `publish` →
 * participant `handle` → relay `publish` → order `handle` → `order
 * COMPLETED`/`CANCELLED`, and the WebSocket push hangs under the relay's
 * publish of the order event.
 *
 * The relay here takes the real slot, or waits in standby when another relay
 * holds it (`./dev up`'s): then that relay publishes, and its spans are
 * expected in the trace the same way.
 */
import assert from "node:assert/strict";
import { infraConfig } from "../../kit/env.ts";
import { formatTree, orderTrace } from "../../otel/jaeger.ts";
import { eventually } from "../support/dev.ts";
import { testKafka } from "../support/kafka.ts";
import { ManagedProcess, testPort } from "../support/process.ts";
import { Client, type OrderView, settled } from "../support/suite.ts";

const { jaegerQueryUrl } = infraConfig();
const chaos = { sanitizeOps: false, sanitizeResources: false };

/** A span of the trace, short names for the checks below. */
interface Node {
  id: string;
  service: string;
  op: string;
  parent: string | null;
}

async function traceOf(orderId: string): Promise<Node[] | undefined> {
  const spans = await orderTrace(jaegerQueryUrl, orderId);
  return spans?.map((s) => ({
    id: s.spanId,
    service: s.service,
    op: s.operation,
    parent: s.parentId,
  }));
}

/** Waits until the saga's trace is complete: `want(spans)` says what is still missing. */
async function completeTrace(
  orderId: string,
  want: (spans: Node[]) => string | null,
): Promise<Node[]> {
  let missing = "no trace yet";
  try {
    return await eventually(
      `the trace of order ${orderId} in Jaeger`,
      async () => {
        const spans = await traceOf(orderId).catch(() => undefined);
        if (!spans) return undefined;
        const m = want(spans);
        if (m === null) return spans;
        missing = m;
        return undefined;
      },
      45_000,
      1_000,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; still missing: ${missing}`);
  }
}

/** The span list, one line each: `service: operation ← parent's service: operation`. */
function describe(spans: Node[]): string {
  const byId = new Map(spans.map((s) => [s.id, s]));
  return spans.map((s) => {
    const p = s.parent ? byId.get(s.parent) : undefined;
    return `${s.service}: ${s.op}  ←  ${p ? `${p.service}: ${p.op}` : "(root)"}`;
  }).join("\n");
}

/** What a finished saga's trace must hold (null when it does). */
function sagaShape(outcome: "COMPLETED" | "CANCELLED", compensations: string[]) {
  return (spans: Node[]): string | null => {
    const byId = new Map(spans.map((s) => [s.id, s]));
    const has = (service: string, op: string | RegExp) =>
      spans.find((s) =>
        s.service === service && (typeof op === "string" ? s.op === op : op.test(s.op))
      );
    for (const service of ["order", "relay", "inventory", "coupon", "point"]) {
      if (!spans.some((s) => s.service === service)) return `a span of ${service}`;
    }
    const need: [string, string | RegExp][] = [
      ["order", "POST /orders"],
      ["inventory", "handle StockDeductionRequested"],
      ["coupon", "handle CouponUsageRequested"],
      ["point", "handle PointDeductionRequested"],
      ["order", `order ${outcome}`],
      ["order", /^websocket push Order/],
      ...compensations.map((c) => ["inventory|coupon|point", `handle ${c}`] as [string, string]),
    ];
    for (const [service, op] of need) {
      const ok = service.includes("|")
        ? spans.some((s) => service.split("|").includes(s.service) && s.op === op)
        : has(service, op);
      if (!ok) return `${service}: ${op}`;
    }
    const orphans = spans.filter((s) => s.parent !== null && !byId.has(s.parent));
    if (orphans.length > 0) return `the parents of ${orphans.map((s) => s.op).join(", ")}`;
    return null;
  };
}

/** The chain of operations from a span up to the root. */
function ancestry(spans: Node[], span: Node): Node[] {
  const byId = new Map(spans.map((s) => [s.id, s]));
  const out: Node[] = [];
  for (let s: Node | undefined = span; s; s = s.parent ? byId.get(s.parent) : undefined) {
    out.push(s);
  }
  return out;
}

function assertLinks(spans: Node[], outcome: "COMPLETED" | "CANCELLED") {
  const roots = spans.filter((s) => s.parent === null);
  assert.equal(roots.length, 1, `one root span:\n${describe(spans)}`);
  assert.equal(roots[0].service, "order");
  assert.equal(roots[0].op, "POST /orders");

  const byId = new Map(spans.map((s) => [s.id, s]));
  const parentOf = (s: Node) => (s.parent ? byId.get(s.parent) : undefined);
  // Every consumer span hangs under a relay publish span…
  for (const s of spans.filter((x) => x.op.startsWith("handle "))) {
    const p = parentOf(s);
    assert.equal(p?.service, "relay", `${s.service}: ${s.op} under the relay`);
    assert.match(p!.op, /^publish /);
    // …whose parent is in the process that wrote the event.
    const writer = parentOf(p!);
    assert.ok(writer && writer.service !== "relay", `${p!.op} under a writer`);
  }
  // Every publish span has its writer as parent: the order's request or a consumer's handling.
  for (const s of spans.filter((x) => x.service === "relay" && x.op.startsWith("publish "))) {
    const p = parentOf(s)!;
    assert.ok(
      p.op === "POST /orders" || p.op.startsWith("handle "),
      `${s.op} under ${p.service}: ${p.op}`,
    );
  }
  // The end of the saga: order → relay → participant → relay → order.
  const end = spans.find((s) => s.service === "order" && s.op === `order ${outcome}`)!;
  const chain = ancestry(spans, end).map((s) => `${s.service}:${s.op.split(" ")[0]}`);
  assert.deepEqual(chain.slice(0, 3), ["order:order", "order:handle", "relay:publish"]);
  assert.equal(chain.at(-1), "order:POST");
  assert.ok(
    chain.some((c) => /^(inventory|coupon|point):handle$/.test(c)),
    `a participant on the way to the outcome: ${chain.join(" ← ")}`,
  );
  // The WebSocket push hangs under the order service's span that wrote the
  // order's event (Postgres notifies every instance on commit, no relay hop).
  const push = spans.find((s) => s.op.startsWith("websocket push Order"))!;
  assert.equal(parentOf(push)?.service, "order");
  assert.match(parentOf(push)!.op, /^(POST \/orders|handle )/);
}

/**
 * True when this test's order service is the only member of the saga-reply
 * group `order-service`. Otherwise another instance (a `./dev up` order
 * service, another test run) may have applied the replies — and counted the
 * outcomes on its own /metrics — so the per-instance outcome counters are not
 * checked (the traces hold either way: every instance runs the same code).
 */
async function aloneInOrderGroup(clientId: string): Promise<boolean> {
  const admin = testKafka("observability-tests").admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups(["order-service"]);
    const others = groups[0]?.members.filter((m) => m.clientId !== clientId) ?? [];
    if (others.length > 0) {
      console.log(
        `other order-service members (${others.map((m) => m.clientId).join(", ")}): ` +
          "outcome counters not checked on this instance",
      );
    }
    return others.length === 0;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Runs a Prometheus of its own (Debian's binary, as infra/prometheus.sh does)
 * scraping `targets` every second with the suite's alert rules, for `fn`.
 */
async function withPrometheus(
  targets: Record<string, ManagedProcess>,
  fn: (api: <T>(path: string) => Promise<T | undefined>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "obs-prometheus-" });
  const port = testPort();
  const rules = new URL("../../infra/prometheus/alerts.yml", import.meta.url).pathname;
  const jobs = Object.entries(targets).map(([job, p]) =>
    `  - job_name: ${job}\n    static_configs: [{ targets: ["127.0.0.1:${p.port}"] }]`
  );
  await Deno.writeTextFile(
    `${dir}/prometheus.yml`,
    [
      "global: { scrape_interval: 1s, evaluation_interval: 1s }",
      `rule_files: ["${rules}"]`,
      "scrape_configs:",
      ...jobs,
    ].join("\n") + "\n",
  );
  const child = new Deno.Command("prometheus", {
    args: [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const errors = (async () => {
    let text = "";
    for await (const c of child.stderr.pipeThrough(new TextDecoderStream())) {
      text = (text + c).slice(-4_000);
    }
    return text;
  })();
  const api = async <T>(path: string): Promise<T | undefined> => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        signal: AbortSignal.timeout(2_000),
      });
      return res.ok ? (await res.json() as { data: T }).data : undefined;
    } catch {
      return undefined;
    }
  };
  try {
    await fn(api);
  } catch (err) {
    child.kill("SIGTERM");
    console.error(`----- prometheus\n${await errors}`);
    throw err;
  } finally {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await errors.catch(() => "");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name: "one trace per saga in Jaeger (completed and compensated), and every process's metrics",
  ...chaos,
  fn: async (t) => {
    const run = crypto.randomUUID().slice(0, 8);
    const common = { CONSUMER_RETRY_DELAY_MS: "200", CONSUMER_LAG_INTERVAL_MS: "1000" };
    const relay = new ManagedProcess({
      name: "relay",
      script: "outbox-relay/main.ts",
      port: testPort(),
      env: { RELAY_INSTANCE_ID: `obs-relay-${Deno.pid}` },
    }).withPortEnv("RELAY_HTTP_PORT");
    const order = new ManagedProcess({
      name: "order",
      script: "services/order/main.ts",
      port: testPort(),
      env: {
        ...common,
        ORDER_INSTANCE_ID: `obs-order-${Deno.pid}`,
        ORDER_SAGA_DEADLINE_MS: "30000",
      },
    }).withPortEnv("ORDER_HTTP_PORT");
    const participant = (name: string) =>
      new ManagedProcess({
        name,
        script: `services/${name}/main.ts`,
        port: testPort(),
        env: common,
      }).withPortEnv(`${name.toUpperCase()}_HTTP_PORT`);
    const inventory = participant("inventory");
    const coupon = participant("coupon");
    const point = participant("point");
    const all = [relay, order, inventory, coupon, point];
    const admin = Client.admin();
    const sockets: WebSocket[] = [];
    // Whether this order service had the saga replies to itself all along.
    let shared = false;
    const alone = async () => {
      if (!shared && !await aloneInOrderGroup(`obs-order-${Deno.pid}`)) shared = true;
      return !shared;
    };
    try {
      for (const p of all) p.start();
      await Promise.all(all.map((p) => p.ready(60_000)));

      const productId = `traced-${run}`;
      const created = await admin.call(inventory, "POST", "/products", {
        id: productId,
        name: "traced widget",
        price: 1_000,
        stock: 100,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));

      /** A user with `points`, a coupon, and a WebSocket that hears their orders. */
      const customer = async (points: number) => {
        const c = new Client(`obs-${run}-${crypto.randomUUID().slice(0, 6)}`);
        if (points > 0) {
          const g = await admin.call(point, "POST", "/admin/points/grant", {
            userId: c.userId,
            amount: points,
          });
          assert.equal(g.status, 200, JSON.stringify(g.body));
        }
        const cp = await admin.call<{ id: string }>(coupon, "POST", "/admin/coupons", {
          userId: c.userId,
          discount: 100,
        });
        assert.equal(cp.status, 201, JSON.stringify(cp.body));
        const heard: { orderId: string; status: string }[] = [];
        const ws = new WebSocket(`ws://127.0.0.1:${order.port}/orders/ws`, [
          "bearer",
          await c.token(),
        ]);
        sockets.push(ws);
        ws.onmessage = (e) => heard.push(JSON.parse(e.data));
        await new Promise((resolve, reject) => {
          ws.onopen = resolve;
          ws.onerror = () => reject(new Error("the order WebSocket did not open"));
        });
        return { c, couponId: cp.body.id, heard };
      };

      const sagaTrace = async (
        points: number,
        spend: number,
        outcome: "COMPLETED" | "CANCELLED",
        compensations: string[],
      ) => {
        const { c, couponId, heard } = await customer(points);
        await alone();
        const placed = await c.call<OrderView>(order, "POST", "/orders", {
          items: [{ productId, quantity: 1 }],
          couponId,
          points: spend,
        });
        assert.equal(placed.status, 202, JSON.stringify(placed.body));
        const { orderId } = placed.body;
        const done = await settled(c, order, orderId, 45_000);
        await alone();
        assert.equal(done.status, outcome, JSON.stringify(done));
        await eventually(
          "the WebSocket push",
          () =>
            Promise.resolve(
              heard.some((m) => m.orderId === orderId && m.status === outcome) || undefined,
            ),
          10_000,
          100,
        );
        const spans = await completeTrace(orderId, sagaShape(outcome, compensations));
        const tree = formatTree(await orderTrace(jaegerQueryUrl, orderId) ?? []);
        console.log(`\ntrace of order ${orderId} (${outcome}, ${spans.length} spans):\n${tree}`);
        assertLinks(spans, outcome);
        return spans;
      };

      await t.step("a completed order: one trace across all five processes", async () => {
        await sagaTrace(1_000, 300, "COMPLETED", []);
      });

      await t.step("a compensated order: the undo steps are in its trace", async () => {
        // Points the user does not have: the point step fails, the coupon and
        // stock steps that succeeded are undone, the order is cancelled.
        const spans = await sagaTrace(0, 500, "CANCELLED", [
          "StockRestoreRequested",
          "CouponRestoreRequested",
        ]);
        const failed = spans.find((s) => s.service === "order" && s.op === "order CANCELLED");
        assert.ok(failed, "the cancellation");
      });

      await t.step("every process exports its Prometheus metrics", async () => {
        const text = async (p: ManagedProcess) => {
          const res = await fetch(`http://127.0.0.1:${p.port}/metrics`);
          assert.equal(res.status, 200);
          assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
          return await res.text();
        };
        const value = (body: string, name: string) =>
          body.split("\n").filter((l) => l.startsWith(name))
            .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
        const o = await text(order);
        assert.ok(value(o, "orders_created_total") >= 2, "orders_created_total");
        if (await alone()) {
          assert.ok(value(o, "orders_completed_total") >= 1, "orders_completed_total");
          assert.ok(value(o, "orders_failed_total") >= 1, "orders_failed_total");
          assert.ok(value(o, "orders_processing_time_seconds_count") >= 2);
        }
        assert.match(o, /^orders_backlog \d+/m);
        assert.match(o, /^orders_oldest_unfinished_age_seconds [\d.e+-]+/m);
        assert.match(
          o,
          /^http_request_duration_seconds_count\{method="POST",route="\/orders",status="202"\} \d+/m,
        );
        for (const p of [order, inventory, coupon, point]) {
          const body = await text(p);
          assert.match(body, /^consumer_events_total\{[^}]*outcome="handled"\} [1-9]/m, p.name);
          assert.match(body, /^consumer_event_latency_seconds_count\{/m, p.name);
          assert.match(body, /^process_cpu_seconds_total /m, p.name);
        }
        const r = await text(relay);
        assert.match(r, /^relay_events_published_total /m);
        assert.match(r, /^relay_wal_bytes_behind /m);
        assert.match(r, /^relay_oldest_unpublished_event_age_seconds /m);
        // Lag is sampled every CONSUMER_LAG_INTERVAL_MS (1 s here, 30 s by default).
        await eventually(
          "consumer lag on /metrics",
          async () => {
            const body = await text(inventory);
            return /^kafka_consumer_lag\{group="inventory-service",topic="stock-events",partition="\d+"\} \d+/m
              .test(body) || undefined;
          },
          15_000,
          500,
        );
      });

      await t.step("Prometheus scrapes every process and loads the alert rules", async () => {
        const targets = { relay, order, inventory, coupon, point };
        await withPrometheus(targets, async (api) => {
          await eventually(
            "every target up",
            async () => {
              const r = await api<{ activeTargets: { labels: { job: string }; health: string }[] }>(
                "/api/v1/targets",
              );
              const up = r?.activeTargets.filter((x) => x.health === "up").map((x) => x.labels.job);
              return up?.length === Object.keys(targets).length ? true : undefined;
            },
            30_000,
            500,
          );
          const scalar = async (q: string) => {
            const r = await api<{ result: { value: [number, string] }[] }>(
              `/api/v1/query?query=${encodeURIComponent(q)}`,
            );
            return Number(r?.result[0]?.value[1] ?? NaN);
          };
          assert.ok(await scalar("sum(orders_created_total)") >= 2);
          if (await alone()) {
            assert.ok(await scalar("sum(orders_completed_total)") >= 1);
            assert.ok(await scalar("sum(orders_failed_total)") >= 1);
          }
          assert.ok(await scalar('sum(consumer_events_total{outcome="handled"})') >= 6);
          const rules = await api<{ groups: { rules: { health: string }[] }[] }>(
            "/api/v1/rules",
          );
          const all = rules?.groups.flatMap((g) => g.rules) ?? [];
          assert.ok(all.length >= 10, `alert rules loaded: ${all.length}`);
        });
      });
    } catch (err) {
      console.error(all.map((p) => `----- ${p.name}\n${p.logs()}`).join("\n"));
      throw err;
    } finally {
      for (const ws of sockets) ws.close();
      await Promise.all(all.map((p) => p.stop()));
    }
  },
});
