/**
 * Overload (issue #17), on real processes: an open load — a fixed arrival
 * rate that does not wait for answers — well above what the suite can finish
 * within a short saga deadline, spread over both order instances and many
 * users. Admission control must answer it at once: every accepted order ends
 * within its deadline (none is cancelled by it), every refusal carries
 * Retry-After, and a refused request wrote nothing (no order, no outbox row).
 */
import assert from "node:assert/strict";
import { connectAdmin } from "../../db/mod.ts";
import { eventually, sleep } from "../support/dev.ts";
import { Client, type OrderView, settled, Suite } from "../support/suite.ts";

const chaos = { sanitizeOps: false, sanitizeResources: false };
/** Short, so that overload is easy to reach even on a slow, shared machine. */
const DEADLINE_MS = 3_000;
const ARRIVALS_PER_S = 250;
const LOAD_MS = 6_000;
const USERS = 100;

interface Answer {
  status: number;
  retryAfter: string | null;
  orderId?: string;
  ms: number;
}

Deno.test({
  name: "an open load above capacity: accepted orders end in time, the rest is refused at once",
  ...chaos,
  fn: async () => {
    const suite = await new Suite({ sagaDeadlineMs: DEADLINE_MS }).start();
    const admin = Client.admin();
    const db = connectAdmin({ max: 1 });
    const run = crypto.randomUUID().slice(0, 8);
    const prefix = `overload-${run}-`;
    try {
      const productId = `overload-${run}`;
      const created = await admin.call(suite.inventory, "POST", "/products", {
        id: productId,
        name: "overload",
        price: 100,
        stock: 1_000_000,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      // Every tenth order also asks for a product out of stock: its saga
      // undoes the first line and is cancelled — compensations under load.
      const soldOut = `overload-sold-out-${run}`;
      const none = await admin.call(suite.inventory, "POST", "/products", {
        id: soldOut,
        name: "sold out",
        price: 100,
        stock: 0,
      });
      assert.equal(none.status, 201, JSON.stringify(none.body));
      // Warm: the services' consumers take a few seconds to join their
      // groups, longer than this short deadline; the load starts once a
      // saga went through.
      const warm = new Client(`warm-${run}`);
      await eventually(
        "a first saga to complete",
        async () => {
          const res = await warm.call<OrderView>(suite.orders[0], "POST", "/orders", {
            items: [{ productId, quantity: 1 }],
          });
          if (res.status !== 202) return undefined;
          const o = await settled(warm, suite.orders[0], res.body.orderId, 30_000);
          return o.status === "COMPLETED" ? o : undefined;
        },
        90_000,
        500,
      );
      const users = Array.from({ length: USERS }, (_, i) => new Client(`${prefix}${i}`));
      await Promise.all(users.map((u) => u.token()));

      // The open load: one request every 1/rate s, whatever the answers do.
      const pending: Promise<Answer>[] = [];
      const started = performance.now();
      for (let n = 0; performance.now() - started < LOAD_MS; n++) {
        const due = started + n * 1000 / ARRIVALS_PER_S;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
        const user = users[n % USERS];
        const via = suite.orders[n % suite.orders.length];
        const sent = performance.now();
        pending.push(
          (async () => {
            const res = await fetch(`http://127.0.0.1:${via.port}/orders`, {
              method: "POST",
              headers: {
                Authorization: `Bearer ${await user.token()}`,
                "Content-Type": "application/json",
              },
              body: JSON.stringify({
                items: n % 10 === 0
                  ? [{ productId, quantity: 1 }, { productId: soldOut, quantity: 1 }]
                  : [{ productId, quantity: 1 }],
              }),
            });
            const body = await res.json();
            return {
              status: res.status,
              retryAfter: res.headers.get("Retry-After"),
              orderId: body.orderId,
              ms: performance.now() - sent,
            };
          })(),
        );
      }
      const answers = await Promise.all(pending);
      const accepted = answers.filter((a) => a.status === 202);
      const refused = answers.filter((a) => a.status === 503 || a.status === 429);
      const summary = `${answers.length} offered, ${accepted.length} accepted, ` +
        `${answers.filter((a) => a.status === 503).length} × 503, ` +
        `${answers.filter((a) => a.status === 429).length} × 429`;
      console.log(`    ${summary}`);
      assert.equal(accepted.length + refused.length, answers.length, summary);
      assert.ok(refused.length > 0, `the load was above capacity: ${summary}`);
      assert.ok(accepted.length > 0, summary);
      for (const r of refused) {
        assert.ok(Number(r.retryAfter) >= 1, `every refusal has Retry-After: ${JSON.stringify(r)}`);
      }

      // Every accepted saga ends — the compensated ones too; none is cancelled by its deadline.
      const outcomes = await eventually(
        "every accepted order to end",
        async () => {
          const rows = await db<{ status: string; reason: string | null; n: number }[]>`
            select status, reason, count(*)::int as n from orders.orders
            where user_id like ${prefix + "%"} group by status, reason`;
          const unfinished = rows.filter((r) =>
            r.status === "PENDING" || r.status === "COMPENSATING"
          );
          return unfinished.length === 0 ? rows : undefined;
        },
        60_000,
        500,
      );
      const deadlineCancelled = outcomes.filter((r) => r.reason === "deadline passed");
      assert.ok(
        outcomes.some((r) => r.status === "CANCELLED" && r.reason !== "deadline passed"),
        `some sagas were compensated for a business reason: ${JSON.stringify(outcomes)}`,
      );
      assert.deepEqual(
        deadlineCancelled,
        [],
        `cancelled by the deadline: ${JSON.stringify(outcomes)}`,
      );

      // A refused request wrote nothing: exactly the accepted orders are stored and announced.
      const [stored] = await db<{ orders: number; placed: number }[]>`
        select (select count(*)::int from orders.orders where user_id like ${
        prefix + "%"
      }) as orders,
               (select count(*)::int from orders.outbox where event_type = 'OrderPlaced'
                  and payload->>'userId' like ${prefix + "%"}) as placed`;
      assert.deepEqual(stored, { orders: accepted.length, placed: accepted.length }, summary);
      const ids = new Set(accepted.map((a) => a.orderId));
      assert.equal(ids.size, accepted.length);
    } catch (err) {
      console.error(suite.logs().slice(-20_000));
      throw err;
    } finally {
      await db.end();
      await suite.stop();
    }
  },
});
