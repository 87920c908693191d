/**
 * The order API through `app.request` (no port), against the real database.
 */
import assert from "node:assert/strict";
import { connectService } from "../../db/mod.ts";
import { jwtSecret } from "../../kit/env.ts";
import { issueToken } from "../../kit/http/auth.ts";
import { createLogger } from "../../kit/log.ts";
import { orderApp } from "./http.ts";

Deno.test("the order HTTP API", async (t) => {
  const sql = connectService("order_service", { max: 2 });
  const app = orderApp({ sql, log: createLogger("order-test", "error"), sagaDeadlineMs: 60_000 });
  const alice = `http-test-alice-${crypto.randomUUID().slice(0, 8)}`;
  const bob = `http-test-bob-${crypto.randomUUID().slice(0, 8)}`;
  const token = (sub: string, roles: string[] = []) => issueToken(jwtSecret(), { sub, roles }, 300);
  const call = async (
    method: string,
    path: string,
    opts: { user?: string; admin?: boolean; body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.user) {
      headers.Authorization = `Bearer ${await token(opts.user, opts.admin ? ["admin"] : [])}`;
    }
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    const res = await app.request(path, {
      method,
      headers,
      body: opts.body === undefined
        ? undefined
        : typeof opts.body === "string"
        ? opts.body
        : JSON.stringify(opts.body),
    });
    return { status: res.status, body: await res.json(), headers: res.headers };
  };
  const order = { items: [{ productId: "p-1", quantity: 2 }], points: 0 };

  try {
    await t.step(
      "POST /orders answers 202 at once with the order id, PENDING and a status URL",
      async () => {
        const res = await call("POST", "/orders", { user: alice, body: order });
        assert.equal(res.status, 202);
        assert.equal(res.body.status, "PENDING");
        assert.equal(res.body.statusUrl, `/orders/${res.body.orderId}`);
        assert.ok(["parallel", "sequential"].includes(res.body.mode));
        const got = await call("GET", res.body.statusUrl, { user: alice });
        assert.equal(got.status, 200);
        assert.deepEqual(got.body.steps.map((s: { step: string }) => s.step), ["stock:1"]);
        assert.equal(got.body.history[0].note, "order placed");
      },
    );

    await t.step(
      "an Idempotency-Key resubmission returns the same order and writes nothing new",
      async () => {
        const key = crypto.randomUUID();
        const a = await call("POST", "/orders", {
          user: alice,
          body: order,
          headers: { "Idempotency-Key": key },
        });
        const b = await call("POST", "/orders", {
          user: alice,
          body: order,
          headers: { "Idempotency-Key": key },
        });
        assert.equal(a.body.orderId, b.body.orderId);
        const [{ n }] =
          await sql`select count(*)::int as n from orders where user_id = ${alice} and idempotency_key = ${key}`;
        assert.equal(n, 1);
      },
    );

    await t.step(
      "users see only their own orders: another's is 404, the list is theirs",
      async () => {
        const mine = await call("POST", "/orders", { user: alice, body: order });
        assert.equal(
          (await call("GET", `/orders/${mine.body.orderId}`, { user: bob })).status,
          404,
        );
        assert.equal(
          (await call("GET", `/orders/${mine.body.orderId}`, { user: "ops", admin: true })).status,
          200,
        );
        const list = await call("GET", "/orders", { user: bob });
        assert.deepEqual(list.body.orders, []);
        assert.ok(
          (await call("GET", "/orders?status=PENDING", { user: alice })).body.orders.length >= 1,
        );
      },
    );

    await t.step(
      "lines of the same product are merged into one, quantities summed, first-seen order kept",
      async () => {
        const res = await call("POST", "/orders", {
          user: alice,
          body: {
            items: [
              { productId: "p-a", quantity: 2 },
              { productId: "p-b", quantity: 1 },
              { productId: "p-a", quantity: 3 },
            ],
          },
        });
        assert.equal(res.status, 202);
        assert.deepEqual(res.body.items, [
          { productId: "p-a", quantity: 5 },
          { productId: "p-b", quantity: 1 },
        ]);
        const got = await call("GET", res.body.statusUrl, { user: alice });
        assert.deepEqual(got.body.steps.map((s: { step: string }) => s.step), [
          "stock:1",
          "stock:2",
        ]);
        const fifty = await call("POST", "/orders", {
          user: alice,
          body: { items: Array.from({ length: 50 }, () => ({ productId: "p-c", quantity: 1 })) },
        });
        assert.equal(fifty.status, 202);
        assert.deepEqual(fifty.body.items, [{ productId: "p-c", quantity: 50 }]);
        const [{ n }] = await sql<{ n: number }[]>`
          select count(*)::int as n from outbox
          where aggregate_id = ${fifty.body.orderId} and event_type = 'StockDeductionRequested'`;
        assert.equal(n, 1);
      },
    );

    await t.step(
      "lines of one product adding up to more than 1,000 are a 422 naming items",
      async () => {
        const before =
          (await sql`select count(*)::int as n from orders where user_id = ${alice}`)[0].n;
        const res = await call("POST", "/orders", {
          user: alice,
          body: {
            items: [{ productId: "p-d", quantity: 600 }, { productId: "p-d", quantity: 401 }],
          },
        });
        assert.equal(res.status, 422);
        assert.match(res.body.error.fields.items, /p-d.*1001.*at most 1000/);
        const after =
          (await sql`select count(*)::int as n from orders where user_id = ${alice}`)[0].n;
        assert.equal(after, before);
      },
    );

    await t.step("bad requests get 400/401/403/404/422 JSON errors and write nothing", async () => {
      const before =
        (await sql`select count(*)::int as n from orders where user_id = ${alice}`)[0].n;
      assert.equal((await call("POST", "/orders", { body: order })).status, 401);
      assert.equal((await call("POST", "/orders", { user: alice, body: "{not json" })).status, 400);
      const bad = await call("POST", "/orders", {
        user: alice,
        body: { items: [{ productId: "", quantity: -1 }], points: 1.5 },
      });
      assert.equal(bad.status, 422);
      assert.ok(bad.body.error.fields["items.0.productId"]);
      assert.ok(bad.body.error.fields["items.0.quantity"]);
      assert.ok(bad.body.error.fields["points"]);
      assert.equal(
        (await call("POST", "/orders", { user: alice, body: { items: [] } })).status,
        422,
      );
      assert.equal(
        (await call("POST", "/orders", {
          user: alice,
          body: order,
          headers: { "Idempotency-Key": "bad key!" },
        }))
          .status,
        400,
      );
      assert.equal((await call("GET", "/orders/not-a-uuid", { user: alice })).status, 404);
      assert.equal((await call("GET", "/admin/settings/mode", { user: alice })).status, 403);
      const after =
        (await sql`select count(*)::int as n from orders where user_id = ${alice}`)[0].n;
      assert.equal(after, before);
    });

    await t.step(
      "an admin changes the rollout switch at run time and new orders follow it",
      async () => {
        const saved =
          (await call("GET", "/admin/settings/mode", { user: "ops", admin: true })).body;
        try {
          const off = { strategy: "hybrid", parallelEnabled: false, parallelPercentage: 100 };
          assert.equal(
            (await call("PUT", "/admin/settings/mode", { user: "ops", admin: true, body: off }))
              .status,
            200,
          );
          assert.equal(
            (await call("POST", "/orders", { user: alice, body: order })).body.mode,
            "sequential",
          );
          const on = { strategy: "parallel", parallelEnabled: true, parallelPercentage: 100 };
          await call("PUT", "/admin/settings/mode", { user: "ops", admin: true, body: on });
          assert.equal(
            (await call("POST", "/orders", { user: alice, body: order })).body.mode,
            "parallel",
          );
          assert.equal(
            (await call("PUT", "/admin/settings/mode", {
              user: "ops",
              admin: true,
              body: { strategy: "fast" },
            })).status,
            422,
          );
        } finally {
          await call("PUT", "/admin/settings/mode", { user: "ops", admin: true, body: saved });
        }
      },
    );
  } finally {
    await sql.end();
  }
});
