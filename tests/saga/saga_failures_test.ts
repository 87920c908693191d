/**
 * The order saga when things go wrong (issue #5): a participant that does not
 * answer in time, its late answer, an order service instance killed in the
 * middle of sagas, and every event delivered again.
 */
import assert from "node:assert/strict";
import { connectAdmin } from "../../db/mod.ts";
import { eventually, sleep } from "../support/dev.ts";
import { Client, type OrderView, settled, Suite } from "../support/suite.ts";

const chaos = { sanitizeOps: false, sanitizeResources: false };
const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test({
  name: "order saga failures, end to end",
  ...chaos,
  fn: async (t) => {
    const started = new Date();
    const suite = await new Suite({ sagaDeadlineMs: 4_000 }).start();
    const admin = Client.admin();
    const run = crypto.randomUUID().slice(0, 8);
    const [orderA, orderB] = suite.orders;
    const productId = `fail-${run}`;
    assert.equal(
      (await admin.call(suite.inventory, "POST", "/products", {
        id: productId,
        name: "thing",
        price: 10,
        stock: 1_000,
      }))
        .status,
      201,
    );
    const stock = async () =>
      (await admin.call<{ stock: number }>(suite.inventory, "GET", `/products/${productId}`)).body
        .stock;
    const user = async (points: number) => {
      const c = new Client(`fail-${run}-${crypto.randomUUID().slice(0, 6)}`);
      await admin.call(suite.point, "POST", "/admin/points/grant", {
        userId: c.userId,
        amount: points,
      });
      return c;
    };
    const balance = async (c: Client) =>
      (await c.call<{ balance: number }>(suite.point, "GET", "/points/me")).body.balance;

    try {
      await t.step(
        "no reply before the deadline: CANCELLED, the stock undone; the late success is undone too",
        async () => {
          const c = await user(1_000);
          await suite.point.stop();
          const o = (await c.call<OrderView>(orderA, "POST", "/orders", {
            items: [{ productId, quantity: 4 }],
            points: 200,
          }))
            .body;
          const cancelled = await eventually("the deadline to cancel the order", async () => {
            const v = (await c.call<OrderView>(orderA, "GET", `/orders/${o.orderId}`)).body;
            return v.status === "CANCELLED" ? v : undefined;
          }, 30_000);
          assert.equal(cancelled.reason, "deadline passed");
          await eventually(
            "the stock to be back",
            async () => (await stock()) === 1_000 ? true : undefined,
            15_000,
          );
          // The point service comes back and handles the old request: the
          // saga undoes that late success, so the user keeps their points.
          suite.point.start();
          await suite.point.ready();
          const final = await eventually("the late success to be undone", async () => {
            const v = (await c.call<OrderView>(orderA, "GET", `/orders/${o.orderId}`)).body;
            return v.steps.find((s) => s.step === "point")?.state === "COMPENSATED" ? v : undefined;
          }, 45_000);
          assert.equal(final.status, "CANCELLED");
          assert.equal(await balance(c), 1_000);
        },
      );

      await t.step(
        "an order service instance SIGKILLed mid-saga: every saga still ends",
        async () => {
          const c = await user(100_000);
          const ids: string[] = [];
          for (let i = 0; i < 20; i++) {
            const res = await c.call<OrderView>(orderA, "POST", "/orders", {
              items: [{ productId, quantity: 1 }],
              points: 10,
            });
            ids.push(res.body.orderId);
          }
          await orderA.kill();
          try {
            // The survivor takes over the dead one's partitions after the
            // group's session timeout (10 s), longer than this suite's 4 s
            // deadline: sagas may end either way, but they end, and each
            // has exactly its effects.
            const finals = await Promise.all(ids.map((id) => settled(c, orderB, id, 60_000)));
            const completed = finals.filter((o) => o.status === "COMPLETED").length;
            assert.equal(completed + finals.filter((o) => o.status === "CANCELLED").length, 20);
            await eventually(
              "the user's points to match the completed orders",
              async () => (await balance(c)) === 100_000 - 10 * completed ? true : undefined,
              30_000,
            );
          } finally {
            orderA.start();
            await orderA.ready();
          }
        },
      );

      await t.step(
        "every event of the run delivered again (replayed): nothing changes",
        async () => {
          const sql = connectAdmin({ max: 1 });
          const snapshot = async () => ({
            stock: await stock(),
            orders:
              (await sql`select id, status from orders.orders where user_id like ${`fail-${run}-%`} order by id`)
                .map((r) => `${r.id}:${r.status}`),
            points:
              (await sql`select user_id, balance from points.balances where user_id like ${`fail-${run}-%`}
                             order by user_id`).map((r) => `${r.user_id}:${r.balance}`),
            inbox: Number((await sql`select count(*) from inventory.inbox`)[0].count),
          });
          try {
            // Late replies to sagas that were given up may still be undoing
            // their effects: wait until the state stands still.
            let before = await snapshot();
            for (let i = 0; i < 30; i++) {
              await sleep(2_000);
              const again = await snapshot();
              if (JSON.stringify(again) === JSON.stringify(before)) break;
              before = again;
            }
            const out = await new Deno.Command(Deno.execPath(), {
              args: ["run", "-A", `${ROOT}outbox-relay/replay.ts`, "--from", started.toISOString()],
              stdout: "piped",
              stderr: "piped",
            }).output();
            const text = new TextDecoder().decode(out.stdout);
            assert.ok(out.success, text + new TextDecoder().decode(out.stderr));
            const replayed = JSON.parse(text.trim().split("\n").at(-1)!).published as number;
            assert.ok(replayed > 50, `replayed ${replayed} events`);
            // Give the consumers time to see them all again.
            await sleep(5_000);
            const after = await snapshot();
            assert.deepEqual({ ...after, inbox: 0 }, { ...before, inbox: 0 });
            assert.equal(after.inbox, before.inbox, "no replayed event was processed as new");
          } finally {
            await sql.end();
          }
        },
      );
    } catch (err) {
      console.log(suite.logs().slice(-20_000));
      throw err;
    } finally {
      await suite.stop();
    }
  },
});
