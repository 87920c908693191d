/**
 * The order saga end to end (issue #5), on real processes: relay, two order
 * service instances, inventory, coupon, point. Each outcome is checked on the
 * order AND on the participants' state: a COMPLETED order has exactly its
 * effects, a CANCELLED one none.
 */
import assert from "node:assert/strict";
import { Client, type OrderView, settled, Suite } from "../support/suite.ts";
import { sleep } from "../support/dev.ts";

const chaos = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "order saga outcomes, end to end",
  ...chaos,
  fn: async (t) => {
    const suite = await new Suite().start();
    const admin = Client.admin();
    const run = crypto.randomUUID().slice(0, 8);
    const [orderA, orderB] = suite.orders;
    const product = async (name: string, stock: number) => {
      const res = await admin.call(suite.inventory, "POST", "/products", {
        id: `${name}-${run}`,
        name,
        price: 1_000,
        stock,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return `${name}-${run}`;
    };
    const stockOf = async (id: string) =>
      (await admin.call<{ stock: number }>(suite.inventory, "GET", `/products/${id}`)).body.stock;
    const user = async (points: number) => {
      const c = new Client(`e2e-${run}-${crypto.randomUUID().slice(0, 6)}`);
      if (points > 0) {
        const res = await admin.call(suite.point, "POST", "/admin/points/grant", {
          userId: c.userId,
          amount: points,
        });
        assert.equal(res.status, 200, JSON.stringify(res.body));
      }
      return c;
    };
    const pointsOf = async (c: Client) =>
      (await c.call<{ balance: number }>(suite.point, "GET", "/points/me")).body.balance;
    const coupon = async (c: Client, discount = 500) => {
      const res = await admin.call<{ id: string }>(suite.coupon, "POST", "/admin/coupons", {
        userId: c.userId,
        discount,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.id;
    };
    const couponOf = async (c: Client, id: string) =>
      (await c.call<{ coupons: { id: string; status: string }[] }>(
        suite.coupon,
        "GET",
        "/coupons/me",
      )).body.coupons
        .find((x) => x.id === id)?.status;
    const place = async (c: Client, body: unknown, via = orderA) => {
      const res = await c.call<OrderView>(via, "POST", "/orders", body);
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal(res.body.status, "PENDING");
      return res.body;
    };

    try {
      const p1 = await product("widget", 100);
      const p2 = await product("rare", 1);

      await t.step("all steps succeed (parallel): COMPLETED, stock taken", async () => {
        const c = await user(0);
        const o = await place(c, { items: [{ productId: p1, quantity: 2 }] });
        assert.equal(o.mode, "parallel");
        const done = await settled(c, orderA, o.orderId);
        assert.equal(done.status, "COMPLETED");
        assert.equal(await stockOf(p1), 98);
      });

      let usedCoupon = "";
      let couponOwner: Client | null = null;
      await t.step(
        "all steps succeed (sequential: coupon and points): COMPLETED with every effect",
        async () => {
          const c = await user(1_000);
          const cp = await coupon(c);
          const o = await place(c, {
            items: [{ productId: p1, quantity: 1 }],
            couponId: cp,
            points: 300,
          });
          assert.equal(o.mode, "sequential");
          const done = await settled(c, orderA, o.orderId);
          assert.equal(done.status, "COMPLETED", JSON.stringify(done));
          assert.equal(await stockOf(p1), 97);
          assert.equal(await pointsOf(c), 700);
          assert.equal(await couponOf(c, cp), "USED");
          usedCoupon = cp;
          couponOwner = c;
        },
      );

      await t.step("stock fails alone: CANCELLED, nothing changed", async () => {
        const c = await user(1_000);
        const cp = await coupon(c);
        const o = await place(c, {
          items: [{ productId: p2, quantity: 5 }],
          couponId: cp,
          points: 100,
        });
        const done = await settled(c, orderA, o.orderId);
        assert.equal(done.status, "CANCELLED");
        assert.match(done.reason!, /stock:1: insufficient_stock/);
        assert.equal(await stockOf(p2), 1);
        assert.equal(await pointsOf(c), 1_000);
        assert.equal(await couponOf(c, cp), "AVAILABLE");
      });

      await t.step("coupon fails alone (already used): CANCELLED, stock given back", async () => {
        const c = couponOwner!;
        const before = await pointsOf(c);
        const o = await place(c, { items: [{ productId: p1, quantity: 3 }], couponId: usedCoupon });
        const done = await settled(c, orderA, o.orderId);
        assert.equal(done.status, "CANCELLED");
        assert.match(done.reason!, /coupon: already_used/);
        assert.equal(await stockOf(p1), 97);
        assert.equal(await pointsOf(c), before);
      });

      await t.step(
        "points fail alone: CANCELLED, stock and coupon given back, in reverse order",
        async () => {
          const c = await user(50);
          const cp = await coupon(c);
          const o = await place(c, {
            items: [{ productId: p1, quantity: 1 }],
            couponId: cp,
            points: 500,
          });
          const done = await settled(c, orderA, o.orderId);
          assert.equal(done.status, "CANCELLED");
          assert.match(done.reason!, /point: insufficient_points/);
          assert.equal(await stockOf(p1), 97);
          assert.equal(await couponOf(c, cp), "AVAILABLE");
          assert.equal(await pointsOf(c), 50);
          const notes = (await c.call<OrderView>(orderA, "GET", `/orders/${o.orderId}`)).body
            .history!.map((h) => h.note);
          assert.ok(
            notes.indexOf("undoing coupon") < notes.indexOf("undoing stock:1"),
            notes.join(" | "),
          );
        },
      );

      await t.step(
        "two steps fail at once (parallel): CANCELLED, the one that succeeded undone",
        async () => {
          const saved = (await admin.call(orderA, "GET", "/admin/settings/mode")).body;
          await admin.call(orderA, "PUT", "/admin/settings/mode", {
            strategy: "parallel",
            parallelEnabled: true,
            parallelPercentage: 100,
          });
          try {
            const c = await user(10);
            const cp = await coupon(c);
            const o = await place(c, {
              items: [{ productId: p1, quantity: 1 }, { productId: p2, quantity: 9 }],
              couponId: cp,
              points: 999,
            });
            assert.equal(o.mode, "parallel");
            const done = await settled(c, orderA, o.orderId);
            assert.equal(done.status, "CANCELLED");
            assert.equal(
              done.steps.filter((s) => s.state === "FAILED").length,
              2,
              JSON.stringify(done.steps),
            );
            assert.equal(await stockOf(p1), 97);
            assert.equal(await stockOf(p2), 1);
            assert.equal(await couponOf(c, cp), "AVAILABLE");
            assert.equal(await pointsOf(c), 10);
          } finally {
            await admin.call(orderA, "PUT", "/admin/settings/mode", saved);
          }
        },
      );

      await t.step(
        "a client connected to one order instance hears about an order placed through the other",
        async () => {
          const c = await user(0);
          const ws = new WebSocket(`ws://127.0.0.1:${orderB.port}/orders/ws`, [
            "bearer",
            await c.token(),
          ]);
          const messages: { orderId: string; status: string }[] = [];
          ws.onmessage = (e) => messages.push(JSON.parse(e.data));
          await new Promise((resolve, reject) => {
            ws.onopen = resolve;
            ws.onerror = reject;
          });
          try {
            await sleep(1_500); // the instance's LISTEN connection (notifications.ts) is up
            const o = await place(c, { items: [{ productId: p1, quantity: 1 }] }, orderA);
            await settled(c, orderA, o.orderId);
            const deadline = Date.now() + 15_000;
            while (
              !messages.some((m) => m.orderId === o.orderId && m.status === "COMPLETED") &&
              Date.now() < deadline
            ) {
              await sleep(100);
            }
            const mine = messages.filter((m) => m.orderId === o.orderId).map((m) => m.status);
            assert.deepEqual(mine, ["PENDING", "COMPLETED"]);
          } finally {
            ws.close();
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
