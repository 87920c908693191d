/**
 * The stock breaker against the order saga's deadline (SPEC §9.1, §4.1):
 * inventory's database work fails, its breaker opens and its consumer
 * pauses (nothing dead-lettered); the orders waiting for stock reach their
 * deadline and are compensated; when the dependency is back, a half-open
 * trial closes the breaker, the held deductions are taken and given back by
 * the compensation, and the stock ends where it started — no stock lost to
 * a cancelled order, no line left DEDUCTED.
 *
 * Inventory runs in this process (its handlers behind the kit's consumer,
 * with a breaker, in a group of its own); its dependency is broken for this
 * test's product only (a trigger that refuses its stock changes, as a full
 * disk would), never for the shared Postgres as a whole. The relay and an
 * order service run as processes.
 */
import assert from "node:assert/strict";
import { connectAdmin, connectService } from "../../db/mod.ts";
import { breakerSnapshots, startConsumer } from "../../kit/mod.ts";
import { memoryLogger } from "../../kit/testing.ts";
import { handlers as inventoryHandlers, TOPICS } from "../../services/inventory/handlers/mod.ts";
import { eventually, sleep } from "../support/dev.ts";
import { testKafka } from "../support/kafka.ts";
import { Client, type OrderView, settled, Suite } from "../support/suite.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "stock outage: the breaker pauses inventory, orders hit their deadline, stock is conserved",
  ...e2e,
  fn: async () => {
    const suite = new Suite({ sagaDeadlineMs: 3_000, retryDelayMs: 100 });
    const order = suite.orders[0];
    suite.relay.start();
    order.start();
    await Promise.all([suite.relay.ready(60_000), order.ready(60_000)]);
    const run = crypto.randomUUID().slice(0, 8);
    const app = `outage-${run}`;
    const sql = connectService("inventory_service", { max: 4, applicationName: app });
    const productId = `outage-${run}`;
    await sql`insert into products (id, name, price, stock) values (${productId}, 'outage', 1000, 10)`;
    const log = memoryLogger();
    // The dependency fails (disk_full): every stock change of this product,
    // whichever inventory instance tries it, so none takes the stock while
    // it is "down"; and all of this consumer's database work (its inbox
    // claims), so its breaker sees the outage whole even while other test
    // runs share the topics. Nothing else of the shared Postgres is touched.
    // Dropped to heal.
    const admin = connectAdmin({ max: 1 });
    const fault = `outage_${run}`;
    await admin.unsafe(`
      create function inventory."${fault}"() returns trigger language plpgsql as $$
      begin
        if TG_TABLE_NAME = 'products' or current_setting('application_name') = '${app}' then
          raise exception 'could not extend file: No space left on device' using errcode = '53100';
        end if;
        return new;
      end $$`);
    await admin.unsafe(`
      create trigger "${fault}" before update on inventory.products for each row
      when (old.id = '${productId}') execute function inventory."${fault}"()`);
    await admin.unsafe(`
      create trigger "${fault}" before insert on inventory.inbox for each row
      execute function inventory."${fault}"()`);
    const heal = async () => {
      await admin.unsafe(`drop trigger if exists "${fault}" on inventory.inbox`);
      await admin.unsafe(`drop trigger if exists "${fault}" on inventory.products`);
      await admin.unsafe(`drop function if exists inventory."${fault}"()`);
    };
    const breaker = `inventory-db-${run}`;
    const inventory = await startConsumer({
      kafka: testKafka("outage"),
      sql,
      log,
      handlers: inventoryHandlers,
      topics: [...TOPICS],
      groupId: `outage-inventory-${run}`,
      fromBeginning: false,
      consumerName: "inventory-service",
      retry: { attempts: 3, delayMs: 100 },
      maxWaitTimeMs: 100,
      // SPEC §9.1's stock figures, with a shorter open time and minimum so the test is short.
      breaker: {
        name: breaker,
        failureRatePercent: 50,
        openMs: 4_000,
        windowSeconds: 10,
        minimumCalls: 3,
      },
    });
    const user = new Client(`outage-${run}`);
    try {
      await sleep(2_000); // the new group's "latest" offsets are taken before the orders
      const placed: string[] = [];
      for (const quantity of [2, 3]) {
        const res = await user.call<OrderView>(order, "POST", "/orders", {
          items: [{ productId, quantity }],
        });
        assert.equal(res.status, 202, JSON.stringify(res.body));
        placed.push(res.body.orderId);
      }
      await eventually(
        "the stock breaker to open",
        () =>
          Promise.resolve(
            breakerSnapshots().find((b) => b.name === breaker)?.state === "open" || undefined,
          ),
        30_000,
        100,
      );
      // The deadline passes while inventory is paused: the orders give up on stock.
      await eventually(
        "the orders past their deadline",
        async () => {
          for (const id of placed) {
            const o = (await user.call<OrderView>(order, "GET", `/orders/${id}`)).body;
            if (o.status !== "COMPENSATING" && o.status !== "CANCELLED") return undefined;
          }
          return true;
        },
        30_000,
        200,
      );
      assert.equal(inventory.counters.deadLettered, 0);
      assert.ok(inventory.counters.breakerPauses >= 1);

      await heal(); // the dependency is back: the next half-open trial succeeds
      for (const id of placed) {
        const o = await settled(user, order, id, 60_000);
        assert.equal(o.status, "CANCELLED", JSON.stringify(o));
      }
      await eventually(
        "the stock given back",
        async () => {
          const [p] = await sql<
            { stock: number }[]
          >`select stock from products where id = ${productId}`;
          const held = await sql`
          select 1 from deductions where product_id = ${productId} and state = 'DEDUCTED'`;
          return p.stock === 10 && held.length === 0 ? true : undefined;
        },
        30_000,
        200,
      );
      await eventually(
        "a good half-open trial to close the breaker",
        () =>
          Promise.resolve(
            breakerSnapshots().find((b) => b.name === breaker)?.state === "closed" || undefined,
          ),
        30_000,
        100,
      );
      assert.equal(inventory.counters.deadLettered, 0);
    } catch (err) {
      console.error(suite.logs(), log.lines.slice(-20), breakerSnapshots());
      throw err;
    } finally {
      await inventory.stop();
      await suite.stop();
      await heal();
      await admin.end();
      await sql`delete from deductions where product_id = ${productId}`;
      await sql`delete from products where id = ${productId}`;
      await sql.end();
    }
  },
});
