/**
 * The saga console (issue #9) in a real browser: Debian's chromium driven by
 * playwright-core, against the whole suite on real processes (relay, two
 * order instances, inventory, coupon, point, dead letters) and the shared
 * Postgres, Kafka, Redis and Jaeger. Everything is asserted on what the page
 * shows. Screenshots of each screen go to tests/screenshots/ (git-ignored).
 */
import assert from "node:assert/strict";
import { connectAdmin } from "../../db/mod.ts";
import { IdempotentProducer } from "../../kafka/mod.ts";
import { deadLetterOf } from "../../kit/dead_letter.ts";
import { eventually } from "../support/dev.ts";
import { testKafka } from "../support/kafka.ts";
import { Client, type OrderView, settled, Suite } from "../support/suite.ts";
import { ConsoleBrowser, startConsole } from "./browser.ts";

const chaos = { sanitizeOps: false, sanitizeResources: false };
const SERVICES = ["order", "relay", "inventory", "coupon", "point"];

Deno.test({
  name: "saga console in a real browser",
  ...chaos,
  fn: async (t) => {
    const started = Date.now();
    const suite = new Suite();
    const app = startConsole(suite);
    await Promise.all([suite.start(), app.ready(60_000)]);
    const browser = await ConsoleBrowser.launch(`http://127.0.0.1:${app.port}`);
    const admin = Client.admin();
    const run = crypto.randomUUID().slice(0, 8);
    const page = browser.page;
    try {
      // ---- fixtures through the APIs, as an operator would set them up ----
      const productId = `console-widget-${run}`;
      const made = await admin.call(suite.inventory, "POST", "/products", {
        id: productId,
        name: "console widget",
        price: 1_000,
        stock: 100,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const customer = async (points: number) => {
        const c = new Client(`console-${run}-${crypto.randomUUID().slice(0, 6)}`);
        const g = await admin.call(suite.point, "POST", "/admin/points/grant", {
          userId: c.userId,
          amount: points,
        });
        assert.equal(g.status, 200, JSON.stringify(g.body));
        const cp = await admin.call<{ id: string }>(suite.coupon, "POST", "/admin/coupons", {
          userId: c.userId,
          discount: 100,
        });
        assert.equal(cp.status, 201, JSON.stringify(cp.body));
        return { client: c, couponId: cp.body.id };
      };
      const place = async (c: Client, body: unknown) => {
        const res = await c.call<OrderView>(suite.orders[0], "POST", "/orders", body);
        assert.equal(res.status, 202, JSON.stringify(res.body));
        return res.body;
      };

      let completedId = "";
      const alice = await customer(1_000);

      await t.step("sign-in page", async () => {
        await page.goto(`${browser.url}/`);
        await page.getByLabel("Bearer token").waitFor();
        await browser.shot("console-signin");
      });

      await t.step("an order placed through the API appears in the live list", async () => {
        await browser.signIn(await admin.token());
        await page.locator("#live.live-on").waitFor({ timeout: 20_000 });
        // Filter on the user first: the list then starts empty and the row can
        // only come from the live feed.
        await page.fill("#f-user", alice.client.userId);
        await page.click("form.filters button[type=submit]");
        await page.waitForFunction(() => location.hash.includes("user="));
        await page.locator("#live.live-on").waitFor({ timeout: 20_000 });
        await page.getByText("No orders match.").waitFor();
        const o = await place(alice.client, {
          items: [{ productId, quantity: 1 }],
          couponId: alice.couponId,
          points: 300,
        });
        completedId = o.orderId;
        const row = page.locator(`tr[data-order-id="${o.orderId}"]`);
        await row.waitFor({ timeout: 20_000 });
        await page.locator(`tr[data-order-id="${o.orderId}"][data-status="COMPLETED"]`)
          .waitFor({ timeout: 30_000 });
        const cells = await row.locator("td").allInnerTexts();
        assert.equal(cells[1], alice.client.userId);
        assert.equal(cells[2], "COMPLETED");
        assert.equal(cells[3], "sequential");
        assert.match(cells[4], /^\d+ s$/, `age: ${cells[4]}`);
        await browser.assertNoHorizontalScroll();
        await browser.shot("console-orders");
      });

      await t.step("the status and time filters narrow the list", async () => {
        const row = page.locator(`tr[data-order-id="${completedId}"]`);
        await page.selectOption("#f-status", "CANCELLED");
        await page.click("form.filters button[type=submit]");
        await page.getByText("No orders match.").waitFor();
        await page.selectOption("#f-status", "COMPLETED");
        await page.click("form.filters button[type=submit]");
        await row.waitFor();
        // datetime-local is the browser's local time: one hour ahead finds nothing.
        const later = await page.evaluate<string>(
          "new Date(Date.now() + 3600e3 - new Date().getTimezoneOffset() * 60e3).toISOString().slice(0, 16)",
        );
        await page.fill("#f-from", later);
        await page.click("form.filters button[type=submit]");
        await page.getByText("No orders match.").waitFor();
        await page.fill("#f-from", "");
        await page.fill("#f-to", later);
        await page.click("form.filters button[type=submit]");
        await row.waitFor();
        assert.match(await page.evaluate<string>("location.hash"), /status=COMPLETED.*to=/);
      });

      await t.step(
        "the saga view: every step on the timeline, the trace as a waterfall",
        async () => {
          await page.click(`tr[data-order-id="${completedId}"] a`);
          await page.locator("#saga-status", { hasText: "COMPLETED" }).waitFor();
          const rows = await browser.timeline();
          const kinds = rows.map((r) => `${r.kind} ${r.steps}`);
          assert.deepEqual(kinds, [
            "placed ",
            "started ",
            "request stock:1",
            "reply stock:1",
            "request coupon",
            "reply coupon",
            "request point",
            "reply point",
            "outcome ",
          ], JSON.stringify(rows, null, 1));
          const replies = rows.filter((r) => r.kind === "reply").map((r) => r.text);
          assert.match(replies[0], /from inventory · StockDeducted/);
          assert.match(replies[1], /from coupon · CouponUsed/);
          assert.match(replies[2], /from point · PointsDeducted/);
          assert.match(rows[2].text, /order → inventory · StockDeductionRequested/);
          // Spans reach Jaeger in batches: the page reloads the trace until they are there.
          const services = await eventually(
            "spans of five processes on the waterfall",
            async () => {
              const shown = await page.locator(".legend li").evaluateAll((els) =>
                els.map((e) => e.getAttribute("data-service") ?? "")
              );
              return SERVICES.every((s) => shown.includes(s)) ? shown : undefined;
            },
            60_000,
            500,
          );
          assert.ok(services.length >= 5, services.join(", "));
          const traceId = await page.locator("#trace-id").innerText();
          assert.match(traceId, /^[0-9a-f]{32}$/);
          const bars = await page.locator("#waterfall tbody tr").count();
          assert.ok(bars >= 10, `${bars} spans drawn`);
          for (const s of SERVICES) {
            assert.ok(
              await page.locator(`#waterfall tbody tr[data-service="${s}"]`).count() > 0,
              `a span of ${s} on the waterfall`,
            );
          }
          await browser.assertNoHorizontalScroll();
          await browser.shot("console-saga");
          // A smaller laptop screen: still no sideways scrolling.
          await page.setViewportSize({ width: 1024, height: 768 });
          await browser.assertNoHorizontalScroll();
          await page.setViewportSize({ width: 1366, height: 768 });
        },
      );

      await t.step("a cancelled order: its compensations in reverse order", async () => {
        const bob = await customer(100); // too few points for 500: the last step fails
        const o = await place(bob.client, {
          items: [{ productId, quantity: 1 }],
          couponId: bob.couponId,
          points: 500,
        });
        const done = await settled(bob.client, suite.orders[0], o.orderId);
        assert.equal(done.status, "CANCELLED");
        await page.goto(`${browser.url}/#/orders/${o.orderId}`);
        await page.locator("#saga-status", { hasText: "CANCELLED" }).waitFor();
        await page.locator('#timeline li[data-kind="outcome"]', { hasText: "cancelled" }).waitFor();
        const rows = await browser.timeline();
        const failure = rows.find((r) => r.kind === "failure");
        assert.ok(failure, JSON.stringify(rows));
        assert.equal(failure.steps, "point");
        assert.match(failure.text, /from point · PointDeductionFailed/);
        assert.match(failure.text, /why: insufficient/);
        const undos = rows.filter((r) => r.kind === "compensation").map((r) => r.steps);
        assert.deepEqual(undos, ["coupon", "stock:1"], "point → coupon → stock (§7.3)");
        const undone = rows.filter((r) => r.kind === "compensated").map((r) => r.steps);
        assert.deepEqual(undone, ["coupon", "stock:1"]);
        assert.match(rows.find((r) => r.kind === "compensation")!.text, /CouponRestoreRequested/);
        assert.match(await page.locator(".saga-head").innerText(), /point: insufficient/);
        await browser.assertNoHorizontalScroll();
        await browser.shot("console-saga-cancelled");
      });

      await t.step("a dead letter replayed with its button leaves the list", async () => {
        const eventId = crypto.randomUUID();
        const now = new Date();
        // A dead letter exactly as the consumer loop writes one (kit/dead_letter.ts),
        // of an event type no consumer handles: its replay is then simply skipped.
        const original = {
          topic: "stock-events",
          partition: 0,
          offset: "0",
          key: `console-${run}`,
          value: new TextEncoder().encode(JSON.stringify({
            id: eventId,
            type: "ConsoleProbe",
            aggregateType: "console",
            aggregateId: run,
            occurredAt: now.toISOString(),
            payload: {},
          })),
          headers: {},
          timestamp: now.getTime(),
        };
        const letter = deadLetterOf(
          original,
          {
            reason: "handler-failed",
            detail: "the ConsoleProbe handler failed 3 times",
            error: new Error("console test: the database was away"),
            attempts: 3,
            firstFailureAt: now,
            lastFailureAt: now,
          },
          { consumer: "inventory-service", groupId: "inventory-service" },
          {
            id: eventId,
            type: "ConsoleProbe",
            aggregateType: "console",
            aggregateId: run,
            occurredAt: now.toISOString(),
            payload: {},
          },
        );
        const kafka = testKafka("console-test");
        const producer = new IdempotentProducer(kafka);
        await producer.connect();
        try {
          await producer.send({ topic: "stock-events-dlq", messages: [letter] });
        } finally {
          await producer.disconnect();
        }
        const stored = await eventually(
          "the dead letter stored",
          async () => {
            const r = await admin.call<{ items: { id: number; status: string }[] }>(
              suite.deadletter,
              "GET",
              `/admin/dead-letters?eventId=${eventId}`,
            );
            return r.body.items?.[0];
          },
          30_000,
          300,
        );
        assert.equal(stored.status, "PENDING");
        await page.goto(`${browser.url}/#/dead-letters`);
        const row = page.locator(`tr[data-dead-letter-id="${stored.id}"]`);
        await row.waitFor({ timeout: 15_000 });
        const text = await row.innerText();
        assert.match(text, /handler-failed/);
        assert.match(text, /ConsoleProbe/);
        assert.match(text, /stock-events/);
        assert.match(text, /inventory-service/);
        assert.match(text, /\b3\b/, "attempts");
        await browser.assertNoHorizontalScroll();
        await browser.shot("console-dead-letters");
        await row.getByRole("button", { name: `Replay dead letter ${stored.id}` }).click();
        await page.locator("#dl-result", { hasText: `Dead letter ${stored.id} replayed` })
          .waitFor({ timeout: 15_000 });
        await row.waitFor({ state: "detached", timeout: 15_000 });
        await browser.shot("console-dead-letters-replayed");
        const after = await admin.call<{ status: string }>(
          suite.deadletter,
          "GET",
          `/admin/dead-letters/${stored.id}`,
        );
        assert.equal(after.body.status, "REPLAYED");
        // Leave the shared database as it was (the dead-letter service's own tests do the same).
        const db = connectAdmin({ max: 1 });
        try {
          await db`delete from deadletters.dead_letters where event_id = ${eventId}`;
        } finally {
          await db.end();
        }
      });

      await t.step("a campaign's counter reaches its total during a burst", async () => {
        const total = 20;
        const created = await admin.call<{ id: string }>(suite.coupon, "POST", "/admin/campaigns", {
          name: `console burst ${run}`,
          total,
          discount: 100,
          endsAt: new Date(Date.now() + 3_600_000).toISOString(),
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        const id = created.body.id;
        await page.goto(`${browser.url}/#/campaigns`);
        const row = page.locator(`tr[data-campaign-id="${id}"]`);
        await row.waitFor({ timeout: 15_000 });
        assert.equal(await row.locator(".issued").innerText(), "0");
        assert.equal(await row.locator(".total").innerText(), String(total));
        // 60 users for 20 coupons, 12 at a time.
        const users = Array.from({ length: 60 }, (_, i) => new Client(`console-burst-${run}-${i}`));
        const results: number[] = [];
        const burst = (async () => {
          for (let i = 0; i < users.length; i += 12) {
            const batch = users.slice(i, i + 12).map((u) =>
              u.call(suite.coupon, "POST", "/coupons/issue", { campaignId: id })
            );
            for (const r of await Promise.all(batch)) results.push(r.status);
          }
        })();
        const seen = new Set<string>();
        // Watch the counter move while the burst runs.
        const watch = (async () => {
          const deadline = Date.now() + 30_000;
          while (Date.now() < deadline) {
            const v = await row.locator(".issued").innerText().catch(() => "");
            seen.add(v);
            if (v === String(total)) return;
            await new Promise((r) => setTimeout(r, 100));
          }
        })();
        await burst;
        await watch;
        assert.equal(results.filter((s) => s === 202).length, total, JSON.stringify(results));
        assert.equal(results.filter((s) => s === 409).length, users.length - total);
        await page.locator(`tr[data-campaign-id="${id}"] .issued`, { hasText: String(total) })
          .waitFor({ timeout: 20_000 });
        assert.equal(await row.locator(".remaining").innerText(), "0");
        assert.notEqual(await row.locator(".sold-out").innerText(), "—");
        assert.ok(seen.size >= 2, `the counter was seen moving: ${[...seen].join(" → ")}`);
        await browser.assertNoHorizontalScroll();
        await browser.shot("console-campaigns");
      });

      await t.step("system: relay, processes, consumer lag, breakers, brokers", async () => {
        await page.goto(`${browser.url}/#/system`);
        await page.locator("#relay").waitFor({ timeout: 15_000 });
        const relay = await page.locator("#relay").innerText();
        assert.match(relay, /active|standby/, relay);
        const processes = await page.locator('section[aria-label="Processes"]').innerText();
        for (const p of ["order", "inventory", "coupon", "point", "deadletter", "relay"]) {
          assert.match(
            processes,
            new RegExp(`${p}\\s+ok|${p}\\s+active|${p}\\s+standby`),
            processes,
          );
        }
        const brokers = await page.locator('section[aria-label="Kafka brokers"]').innerText();
        assert.equal(brokers.match(/\bup\b/g)?.length, 3, brokers);
        const breakers = await page.locator('section[aria-label="Circuit breakers"]').innerText();
        assert.match(breakers, /coupon-redis\s+closed/, breakers);
        // Admission of new orders (issue #17): each order instance, admitting after the orders above.
        const admission = await page.locator(
          'section[aria-label="Admission of new orders (POST /orders)"]',
        ).innerText();
        assert.match(admission, /order\s+admitting\s+\d+ \/ \d+/, admission);
        const lag = await page.locator('section[aria-label="Consumer lag per group"]').innerText();
        assert.match(lag, /order-service\s+stock-events\s+\d+/, lag);
        await browser.assertNoHorizontalScroll();
        await browser.shot("console-system");
      });

      await t.step("the whole list, unfiltered", async () => {
        await page.goto(`${browser.url}/#/orders`);
        await page.locator(`tr[data-order-id="${completedId}"]`).waitFor();
        await browser.assertNoHorizontalScroll();
        await browser.shot("console-orders-all");
      });

      await t.step("a user sees only their own orders, and no operations sections", async () => {
        await browser.signIn(await alice.client.token());
        await page.locator("#live.live-on").waitFor({ timeout: 20_000 });
        await page.locator("tr[data-order-id]").first().waitFor();
        const ids = await page.locator("tr[data-order-id]").evaluateAll((els) =>
          els.map((e) => e.getAttribute("data-order-id"))
        );
        assert.deepEqual(ids, [completedId]);
        assert.equal(await page.getByRole("link", { name: "Dead letters" }).isVisible(), false);
        const other = await page.request.get(`${browser.url}/api/admin/system`, {
          headers: { Authorization: `Bearer ${await alice.client.token()}` },
        });
        assert.equal(other.status(), 403);
        await browser.shot("console-user");
      });
      console.log(`console browser test: ${Math.round((Date.now() - started) / 1000)} s`);
    } catch (err) {
      console.error(`----- console\n${app.logs()}\n${suite.logs()}`);
      await browser.shot("console-failure").catch(() => {});
      throw err;
    } finally {
      await browser.close();
      await Promise.all([suite.stop(), app.stop()]);
    }
  },
});
