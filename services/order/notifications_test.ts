/**
 * Order status pushes against the real database: two order instances (the
 * order app on ports of their own, each with its notifier), no relay and no
 * Kafka consumer — a change reaches the sockets straight from Postgres.
 */
import assert from "node:assert/strict";
import { appendOutbox, connectAdmin, connectService, type Sql } from "../../db/mod.ts";
import { ensureMigrated } from "../../db/testing.ts";
import { jwtSecret } from "../../kit/env.ts";
import { issueToken } from "../../kit/http/auth.ts";
import { createLogger } from "../../kit/log.ts";
import { sleep } from "../../tests/support/dev.ts";
import { ORDER_TOPIC, OrderEvents } from "./events.ts";
import { orderApp } from "./http.ts";
import { OrderNotifier } from "./notifications.ts";

const log = createLogger("order-notify-test", "error");

interface Instance {
  id: string;
  notifier: OrderNotifier;
  server: Deno.HttpServer<Deno.NetAddr>;
  port: number;
}

async function startInstance(sql: Sql, id: string): Promise<Instance> {
  const notifier = new OrderNotifier(log);
  await notifier.start({ sql, instanceId: id });
  const app = orderApp({ sql, log, sagaDeadlineMs: 60_000, notifier });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  return { id, notifier, server, port: server.addr.port };
}

/** A socket on `path` of an instance, and everything it receives (with when). */
async function openSocket(port: number, path: string, token: string) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, ["bearer", token]);
  const messages: { at: number; body: Record<string, unknown> }[] = [];
  ws.onmessage = (e) => messages.push({ at: performance.now(), body: JSON.parse(e.data) });
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  const closed = new Promise((r) => ws.addEventListener("close", r));
  return {
    messages,
    /** Messages about `orderId`, once `count` arrived or `ms` passed. */
    async about(orderId: string, count: number, ms = 3_000) {
      const end = Date.now() + ms;
      const mine = () => messages.filter((m) => m.body.orderId === orderId);
      while (mine().length < count && Date.now() < end) await sleep(5);
      return mine();
    },
    async close() {
      ws.close();
      await closed;
    },
  };
}

function orderEvent(type: string, orderId: string, userId: string, extra = {}) {
  return {
    aggregateType: "order",
    aggregateId: orderId,
    eventType: type,
    topic: ORDER_TOPIC,
    key: userId,
    payload: { orderId, userId, ...extra },
  };
}

Deno.test("order status pushes come straight from Postgres", async (t) => {
  await ensureMigrated();
  const sql = connectService("order_service", { max: 4 });
  const admin = connectAdmin({ max: 1 });
  const run = crypto.randomUUID().slice(0, 8);
  const a = await startInstance(sql, `notify-test-a-${run}`);
  const b = await startInstance(sql, `notify-test-b-${run}`);
  const user = `notify-test-${run}`;
  const token = await issueToken(jwtSecret(), { sub: user, roles: [] }, 300);
  const adminToken = await issueToken(jwtSecret(), { sub: "ops", roles: ["admin"] }, 300);
  const onA = await openSocket(a.port, "/orders/ws", token);
  const watcherOnB = await openSocket(b.port, "/admin/orders/ws", adminToken);
  try {
    await t.step("a committed status change reaches the user's socket once", async () => {
      const orderId = crypto.randomUUID();
      await sql.begin((tx) => appendOutbox(tx, orderEvent(OrderEvents.Completed, orderId, user)));
      const committed = performance.now();
      const got = await onA.about(orderId, 1);
      await sleep(300); // a second copy would come in this time
      assert.deepEqual(onA.messages.filter((m) => m.body.orderId === orderId).map((m) => m.body), [
        { type: "OrderCompleted", orderId, status: "COMPLETED", reason: null },
      ]);
      console.log(`commit → socket: ${(got[0].at - committed).toFixed(1)} ms`);
    });

    await t.step(
      "transaction begin → socket, 50 changes one after another (logged, not asserted)",
      async () => {
        const delays: number[] = [];
        for (let i = 0; i < 50; i++) {
          const orderId = crypto.randomUUID();
          const begun = performance.now(); // as bench:saga's finished_at: inside the transaction
          await sql.begin((tx) =>
            appendOutbox(tx, orderEvent(OrderEvents.Completed, orderId, user))
          );
          const [got] = await onA.about(orderId, 1);
          assert.ok(got, `change ${i} reached the socket`);
          delays.push(got.at - begun);
        }
        delays.sort((x, y) => x - y);
        console.log(
          `transaction begin → socket over 50: p50 ${delays[24].toFixed(1)} ms, max ${
            delays[49].toFixed(1)
          } ms`,
        );
      },
    );

    await t.step("a rolled-back change sends nothing", async () => {
      const rolledBack = crypto.randomUUID();
      await assert.rejects(sql.begin(async (tx) => {
        await appendOutbox(
          tx,
          orderEvent(OrderEvents.Cancelled, rolledBack, user, { reason: "x" }),
        );
        throw new Error("roll back");
      }));
      // A change committed after it arrives; the rolled-back one never does.
      const after = crypto.randomUUID();
      await sql.begin((tx) => appendOutbox(tx, orderEvent(OrderEvents.Completed, after, user)));
      assert.equal((await onA.about(after, 1)).length, 1);
      assert.equal((await onA.about(rolledBack, 1, 200)).length, 0);
    });

    await t.step(
      "an order placed through one instance is heard on the other's sockets and watchers",
      async () => {
        const res = await fetch(`http://127.0.0.1:${b.port}/orders`, {
          method: "POST",
          headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
          body: JSON.stringify({ items: [{ productId: "p-notify", quantity: 1 }] }),
        });
        assert.equal(res.status, 202);
        const { orderId, mode } = await res.json();
        const got = await onA.about(orderId, 1);
        assert.deepEqual(got.map((m) => m.body), [
          { type: "OrderPlaced", orderId, status: "PENDING", reason: null },
        ]);
        const watched = await watcherOnB.about(orderId, 1);
        assert.equal(watched.length, 1);
        assert.equal(watched[0].body.userId, user);
        assert.equal(watched[0].body.mode, mode);
        assert.equal(watched[0].body.status, "PENDING");
      },
    );

    await t.step(
      "changes committed while the listening connection was down are pushed once when it is back",
      async () => {
        const insert = (tx: Sql, orderId: string) =>
          tx`insert into orders.outbox (event_id, aggregate_type, aggregate_id, event_type, topic, key, payload)
             values (${crypto.randomUUID()}, 'order', ${orderId}, ${OrderEvents.Cancelled},
                     ${ORDER_TOPIC}, ${user}, ${
            tx.json({ orderId, userId: user, reason: "none" })
          })`;
        // A change whose notification is lost: written with triggers off
        // (replica mode), so only the catch-up from the outbox can push it.
        const silent = crypto.randomUUID();
        await admin.begin(async (tx) => {
          await tx`set local session_replication_role = replica`;
          await insert(tx as unknown as Sql, silent);
        });
        // A change committed as instance A's listening session ends: Postgres
        // may still hand its notification to A's next session (a new
        // listener starts where the slowest other listener is), and the
        // catch-up finds it too — pushed once all the same.
        const ending = crypto.randomUUID();
        await admin.begin(async (tx) => {
          await tx`select pg_terminate_backend(pid, 5000) from pg_stat_activity
                   where application_name = ${`order-notify-${a.id}`}`;
          await insert(tx as unknown as Sql, ending);
        });
        for (const orderId of [silent, ending]) {
          await onA.about(orderId, 1, 5_000);
        }
        await sleep(300);
        for (const orderId of [silent, ending]) {
          assert.deepEqual(
            onA.messages.filter((m) => m.body.orderId === orderId).map((m) => m.body),
            [{ type: "OrderCancelled", orderId, status: "CANCELLED", reason: "none" }],
          );
        }
      },
    );
  } finally {
    await onA.close();
    await watcherOnB.close();
    for (const i of [a, b]) {
      await i.notifier.stop();
      await i.server.shutdown();
    }
    await admin.end();
    await sql.end();
  }
});
