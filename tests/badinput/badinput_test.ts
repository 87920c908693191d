/**
 * Bad input, end to end (issue #7): every service's API — order, inventory,
 * coupon (campaigns included), point, dead-letter — gets malformed JSON,
 * wrong types, missing fields, negative and huge numbers, oversized bodies,
 * unknown ids, missing, expired and forged tokens, another user's resources
 * and SQL-injection strings; every topic gets poison. Each request is
 * refused with a clear 4xx JSON error and writes nothing; each poison
 * record becomes a dead letter with its reason while its partition keeps
 * flowing (a real event behind it is handled); no process crashes, and the
 * suite keeps serving.
 */
import assert from "node:assert/strict";
import { connectAdmin } from "../../db/mod.ts";
import { eventually } from "../support/dev.ts";
import { testKafka } from "../support/kafka.ts";
import type { ManagedProcess } from "../support/process.ts";
import { Client, type OrderView, settled, Suite } from "../support/suite.ts";
import { couponCases, deadLetterCases, inventoryCases, orderCases, pointCases } from "./cases.ts";
import { deadLettersFor, type Poison, poisonFor, publishPoison } from "./poison.ts";
import { assertRefused, type BadRequest, badTokens, send } from "./support.ts";
import { writtenFor } from "./written.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "bad input: every API refuses it cleanly, every topic dead-letters poison, nothing breaks",
  ...e2e,
  fn: async (t) => {
    const suite = await new Suite({ retryDelayMs: 100, sagaDeadlineMs: 20_000 }).start();
    const run = crypto.randomUUID().slice(0, 8);
    const mark = `badinput-${run}`;
    const admin = new Client(`${mark}-admin`, ["admin"]);
    const mallory = new Client(`${mark}-mallory`);
    const victim = new Client(`${mark}-victim`);
    const tokens = {
      admin: await admin.token(),
      mallory: await mallory.token(),
    };
    let refused = 0;
    const refuse = async (service: ManagedProcess, cases: BadRequest[], token: string) => {
      for (const r of cases) {
        assertRefused(r, await send(service, r, token));
        refused++;
      }
    };
    const ok = async <T>(p: Promise<{ status: number; body: T }>, status = 200) => {
      const res = await p;
      assert.equal(res.status, status, JSON.stringify(res.body));
      return res.body;
    };
    try {
      // What exists before: a product, and the victim's order, coupon and points.
      const productId = `${mark}-widget`;
      await ok(
        admin.call(suite.inventory, "POST", "/products", {
          id: productId,
          name: `${mark} widget`,
          price: 1_000,
          stock: 100,
        }),
        201,
      );
      await ok(admin.call(suite.point, "POST", "/admin/points/grant", {
        userId: victim.userId,
        amount: 1_000,
      }));
      const victimCoupon = (await ok(
        admin.call<{ id: string }>(suite.coupon, "POST", "/admin/coupons", {
          userId: victim.userId,
          discount: 300,
        }),
        201,
      )).id;
      const victimOrder = (await ok(
        victim.call<OrderView>(suite.orders[0], "POST", "/orders", {
          items: [{ productId, quantity: 1 }],
        }),
        202,
      )).orderId;
      assert.equal((await settled(victim, suite.orders[0], victimOrder)).status, "COMPLETED");
      const campaigns = (await admin.call(suite.coupon, "GET", "/admin/campaigns")).status === 200;
      const users = [mallory.userId, victim.userId, admin.userId];
      const before = await writtenFor(mark, users, productId);

      await t.step("inventory refuses bad input", async () => {
        const c = inventoryCases(mark);
        await refuse(suite.inventory, c.admin, tokens.admin);
        await refuse(suite.inventory, c.customer, tokens.mallory);
      });

      await t.step("order refuses bad input and hides other users' orders", async () => {
        const c = orderCases(mark, productId);
        await refuse(suite.orders[0], c.user, tokens.mallory);
        await refuse(suite.orders[1], c.customerAdmin, tokens.mallory);
        await refuse(suite.orders[0], c.admin, tokens.admin);
        await refuse(suite.orders[0], [
          {
            name: "another user's order",
            method: "GET",
            path: `/orders/${victimOrder}`,
            expect: [404],
          },
          {
            name: "another user's order events",
            method: "GET",
            path: `/orders/${victimOrder}/events`,
            expect: [404],
          },
          {
            name: "bad idempotency key",
            method: "POST",
            path: "/orders",
            body: { items: [{ productId, quantity: 1 }] },
            headers: { "Idempotency-Key": "' OR 1=1 --" },
            expect: [400],
          },
        ], tokens.mallory);
        const mine = await ok(
          mallory.call<{ orders: unknown[] }>(suite.orders[0], "GET", "/orders"),
        );
        assert.deepEqual(mine.orders, []);
      });

      await t.step("coupon refuses bad input (and campaigns, when there)", async () => {
        const c = couponCases(mark, victim.userId, campaigns);
        await refuse(suite.coupon, c.admin, tokens.admin);
        await refuse(suite.coupon, c.customer, tokens.mallory);
        const mine = await ok(
          mallory.call<{ coupons: { id: string }[] }>(suite.coupon, "GET", "/coupons/me"),
        );
        assert.ok(
          !mine.coupons.some((x) => x.id === victimCoupon),
          "another user's coupon is not shown",
        );
      });

      await t.step("point refuses bad input", async () => {
        const c = pointCases(victim.userId);
        await refuse(suite.point, c.admin, tokens.admin);
        await refuse(suite.point, c.customer, tokens.mallory);
        const mine = await ok(
          mallory.call<{ userId: string; balance: number }>(suite.point, "GET", "/points/me"),
        );
        assert.deepEqual([mine.userId, mine.balance], [mallory.userId, 0]);
      });

      await t.step("dead-letter admin API refuses bad input", async () => {
        const c = deadLetterCases();
        await refuse(suite.deadletter, c.admin, tokens.admin);
        await refuse(suite.deadletter, c.customer, tokens.mallory);
      });

      await t.step("every route refuses missing, expired and forged tokens", async () => {
        const bad = await badTokens(admin.userId);
        const routes: [ManagedProcess, string, string, unknown?][] = [
          [suite.inventory, "GET", "/products"],
          [suite.inventory, "GET", `/products/${productId}`],
          [suite.inventory, "POST", "/products", {
            id: `${mark}-t`,
            name: mark,
            price: 1,
            stock: 1,
          }],
          [suite.inventory, "PUT", `/products/${productId}/stock`, { stock: 0 }],
          [suite.orders[0], "POST", "/orders", { items: [{ productId, quantity: 1 }] }],
          [suite.orders[0], "GET", "/orders"],
          [suite.orders[0], "GET", `/orders/${victimOrder}`],
          [suite.orders[0], "GET", `/orders/${victimOrder}/events`],
          [suite.orders[0], "GET", "/admin/orders"],
          [suite.orders[0], "PUT", "/admin/settings/mode", {
            strategy: "sequential",
            parallelEnabled: false,
            parallelPercentage: 0,
          }],
          [suite.coupon, "GET", "/coupons/me"],
          [suite.coupon, "POST", "/admin/coupons", { userId: mallory.userId, discount: 1_000 }],
          [suite.point, "GET", "/points/me"],
          [suite.point, "POST", "/admin/points/grant", { userId: mallory.userId, amount: 1_000 }],
          [suite.deadletter, "GET", "/admin/dead-letters"],
          [suite.deadletter, "GET", "/admin/dead-letters/stats"],
          [suite.deadletter, "POST", "/admin/dead-letters/replay"],
          [suite.deadletter, "POST", "/admin/dead-letters/1/resolve"],
          [suite.deadletter, "POST", "/admin/dead-letters/1/replay"],
        ];
        if (campaigns) {
          routes.push(
            [suite.coupon, "GET", "/admin/campaigns"],
            [suite.coupon, "POST", "/admin/campaigns", {
              id: `${mark}-t`,
              name: mark,
              total: 5,
              discount: 1,
              endsAt: new Date(Date.now() + 3_600_000).toISOString(),
            }],
            [suite.coupon, "POST", "/coupons/issue", { campaignId: `${mark}-t` }],
          );
        }
        for (const [service, method, path, body] of routes) {
          const cases: BadRequest[] = [
            { name: "no token", method, path, body, token: null, expect: [401] },
            {
              name: "basic auth",
              method,
              path,
              body,
              authorization: "Basic YWRtaW46YWRtaW4=",
              expect: [401],
            },
            { name: "empty bearer", method, path, body, authorization: "Bearer ", expect: [401] },
            ...Object.entries(bad).map(([name, token]) => ({
              name,
              method,
              path,
              body,
              token,
              expect: [401],
            })),
          ];
          await refuse(service, cases, tokens.admin);
        }
        // The WebSockets take their token as a subprotocol beside `bearer`
        // (browsers cannot set headers), and never from the URL.
        const upgrade = {
          Upgrade: "websocket",
          Connection: "Upgrade",
          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
          "Sec-WebSocket-Version": "13",
        };
        for (
          const [service, path] of [[suite.orders[0], "/orders/ws"], [
            suite.coupon,
            "/coupons/ws",
          ]] as const
        ) {
          await refuse(
            service,
            [
              ...Object.entries({ "no token": "", ...bad }).map(([name, token]) => ({
                name: `websocket, ${name}`,
                method: "GET",
                path,
                token: null,
                headers: token
                  ? { ...upgrade, "Sec-WebSocket-Protocol": `bearer, ${token}` }
                  : upgrade,
                expect: [401],
              })),
              {
                name: "websocket, a valid token in the URL",
                method: "GET",
                path: `${path}?access_token=${tokens.admin}`,
                token: null,
                headers: upgrade,
                expect: [401],
              },
            ],
            tokens.admin,
          );
        }
      });

      await t.step("nothing was written for any refused request", async () => {
        assert.deepEqual(await writtenFor(mark, users, productId), before);
        console.log(`${refused} bad requests refused, nothing written`);
      });

      await t.step(
        "poison on every topic: dead letters with reasons, partitions keep flowing",
        async () => {
          await poisonEveryTopic(suite, run, { admin, victim, productId, victimCoupon });
        },
      );

      await t.step("every process is up and serving", async () => {
        for (const p of suite.all) {
          assert.ok(p.running, `${p.name} exited:\n${p.logs()}`);
          const res = await fetch(`http://127.0.0.1:${p.port}/health`);
          assert.equal(res.status, 200, `${p.name}: ${await res.text()}`);
        }
        const o = await ok(
          victim.call<OrderView>(suite.orders[1], "POST", "/orders", {
            items: [{ productId, quantity: 1 }],
          }),
          202,
        );
        assert.equal((await settled(victim, suite.orders[1], o.orderId)).status, "COMPLETED");
      });
    } catch (err) {
      console.error(suite.logs());
      throw err;
    } finally {
      await suite.stop();
      await cleanUp(mark, run);
    }
  },
});

interface World {
  admin: Client;
  victim: Client;
  productId: string;
  victimCoupon: string;
}

/** The consumers of each topic (their inbox names), and the command type each validates. */
const TOPICS: {
  topic: string;
  consumers: string[];
  type: string | null;
  rejectedBy: string | null;
}[] = [
  {
    topic: "stock-events",
    consumers: ["inventory-service", "order.saga-replies"],
    type: "StockDeductionRequested",
    rejectedBy: "inventory-service",
  },
  {
    topic: "coupon-events",
    consumers: ["coupon-service", "order.saga-replies"],
    type: "CouponUsageRequested",
    rejectedBy: "coupon-service",
  },
  {
    topic: "point-events",
    consumers: ["point-service", "order.saga-replies"],
    type: "PointDeductionRequested",
    rejectedBy: "point-service",
  },
  {
    topic: "compensation-events",
    consumers: ["inventory-service", "coupon-service", "point-service"],
    type: "StockRestoreRequested",
    rejectedBy: "inventory-service",
  },
];

async function poisonEveryTopic(suite: Suite, run: string, w: World): Promise<void> {
  const kafka = testKafka("badinput");
  const poison = new Map<string, Poison[]>();
  for (const t of TOPICS) poison.set(t.topic, poisonFor(t.type, `${t.topic}-${run}`));
  // Keyed like the events that follow: the same partition, ahead of them.
  await publishPoison(kafka, "stock-events", poison.get("stock-events")!, { key: w.productId });
  await publishPoison(kafka, "coupon-events", poison.get("coupon-events")!, {
    key: w.victimCoupon,
  });
  await publishPoison(kafka, "point-events", poison.get("point-events")!, { key: w.victim.userId });
  // Compensations are keyed by an order id not known yet: poison every partition.
  for (let partition = 0; partition < 4; partition++) {
    await publishPoison(
      kafka,
      "compensation-events",
      poisonFor("StockRestoreRequested", `c${partition}-${run}`),
      { partition },
    );
  }
  // order-events has no inbox consumer (only the order service's WebSocket
  // notifier, which skips what it cannot read): poison there must change nothing.
  await publishPoison(kafka, "order-events", poisonFor("OrderPlaced", `o-${run}`), {
    key: w.victim.userId,
  });
  // An outbox row the relay cannot publish (unknown topic) goes to
  // outbox-relay-dlq, and from there to the dead-letter service.
  const relayPoison = crypto.randomUUID();
  const admin = connectAdmin({ max: 1 });
  try {
    await admin`
      insert into inventory.outbox (event_id, aggregate_type, aggregate_id, event_type, topic, key, payload)
      values (${relayPoison}, 'badinput', ${run}, 'BadInput', ${`no-such-topic-${run}`}, ${run}, '{}')`;
  } finally {
    await admin.end();
  }
  // A DLQ topic gets junk too: the dead-letter service stores it, and goes on.
  await publishPoison(kafka, "stock-events-dlq", poisonFor(null, `dlq-${run}`), {
    key: w.productId,
  });

  // Real events behind the poison: an order using stock, the coupon and points
  // (every key above) completes; one that cannot pay is compensated (stock back).
  const stockOf = async () =>
    (await w.admin.call<{ stock: number }>(suite.inventory, "GET", `/products/${w.productId}`)).body
      .stock;
  const good = await w.victim.call<OrderView>(suite.orders[0], "POST", "/orders", {
    items: [{ productId: w.productId, quantity: 2 }],
    couponId: w.victimCoupon,
    points: 100,
  });
  assert.equal(good.status, 202, JSON.stringify(good.body));
  const done = await settled(w.victim, suite.orders[0], good.body.orderId);
  assert.equal(done.status, "COMPLETED", JSON.stringify(done));
  const stock = await stockOf();
  const broke = await w.victim.call<OrderView>(suite.orders[0], "POST", "/orders", {
    items: [{ productId: w.productId, quantity: 3 }],
    points: 1_000_000,
  });
  assert.equal(broke.status, 202, JSON.stringify(broke.body));
  const cancelled = await settled(w.victim, suite.orders[0], broke.body.orderId);
  assert.equal(cancelled.status, "CANCELLED", JSON.stringify(cancelled));
  await eventually(
    "the compensation restored the stock",
    async () => await stockOf() === stock ? true : undefined,
    30_000,
  );

  // Every poison record became a dead letter of each consumer, with its reason.
  for (const t of TOPICS) {
    const list = t.topic === "compensation-events"
      ? [0, 1, 2, 3].flatMap((p) => poisonFor("StockRestoreRequested", `c${p}-${run}`))
      : poison.get(t.topic)!;
    const expected = list.flatMap((p) =>
      (p.reason === "rejected" ? [t.rejectedBy!] : t.consumers).map((c) =>
        `${c} ${p.label} ${p.reason}`
      )
    ).sort();
    const got = await eventually(
      `dead letters of ${t.topic}`,
      async () => {
        const rows = await deadLettersFor(t.topic, list.map((p) => p.label));
        return rows.length >= expected.length ? rows : undefined;
      },
      60_000,
      250,
    );
    assert.deepEqual(
      got.map((r) => `${r.consumer} ${r.label} ${r.reason}`).sort(),
      expected,
      t.topic,
    );
    for (const r of got) assert.equal(r.status, "NON_RETRYABLE", `${t.topic} ${r.label}`);
  }
  const junk = await eventually(
    "the DLQ junk stored",
    async () => {
      const rows = await deadLettersFor(
        "stock-events",
        poisonFor(null, `dlq-${run}`).map((p) => p.label),
      );
      return rows.length === 3 ? rows : undefined;
    },
    30_000,
    250,
  );
  assert.ok(junk.every((r) => r.status === "NON_RETRYABLE"));
  const onOrders = await deadLettersFor(
    "order-events",
    poisonFor("OrderPlaced", `o-${run}`).map((p) => p.label),
  );
  assert.deepEqual([...onOrders], []);
  const relayed = await eventually(
    "the relay's dead letter stored",
    async () => {
      const rows = await deadLettersOfEvent(relayPoison);
      return rows.length > 0 ? rows : undefined;
    },
    60_000,
    250,
  );
  assert.deepEqual(relayed, [{
    source: "relay",
    reason: "unknown-topic",
    status: "NON_RETRYABLE",
  }]);
}

async function deadLettersOfEvent(eventId: string) {
  const sql = connectAdmin({ max: 1 });
  try {
    return [
      ...await sql`
      select source, reason, status from deadletters.dead_letters where event_id = ${eventId}`,
    ]
      .map((r) => ({ ...r }));
  } finally {
    await sql.end();
  }
}

/** Removes what the run left in the shared database. */
async function cleanUp(mark: string, run: string): Promise<void> {
  const sql = connectAdmin({ max: 1 });
  try {
    await sql`delete from deadletters.dead_letters where headers ->> 'badinput' like ${`%${run}`}
                 or original_topic = ${`no-such-topic-${run}`}`;
    await sql`delete from inventory.outbox where topic = ${`no-such-topic-${run}`}`;
    await sql`delete from coupons.coupons where user_id like ${`${mark}%`}`;
  } finally {
    await sql.end();
  }
}
