/**
 * Issue 15 item 8: every service with an inbox (order, inventory, coupon;
 * point starts through the same kit/service.ts runService as inventory)
 * deletes its claims past the inbox retention on its own, and keeps the
 * younger ones. The processes are started as ./dev starts them, against the
 * suite's Postgres and Kafka; the claims are this test's own.
 */
import assert from "node:assert/strict";
import { connectAdmin } from "../../db/mod.ts";
import { uniqueName } from "../../db/testing.ts";
import { eventually } from "../support/dev.ts";
import { ManagedProcess, testPort } from "../support/process.ts";

const SCHEMAS = ["orders", "inventory", "coupons"] as const;

/** The services with an inbox, each in its own consumer group so it takes no other test's partitions. */
function services(group: string): ManagedProcess[] {
  const service = (name: string, prefix: string, env: Record<string, string>) =>
    new ManagedProcess({ name, script: `services/${name}/main.ts`, port: testPort(), env })
      .withPortEnv(`${prefix}_HTTP_PORT`);
  return [
    // The order service's group is fixed (order-service): it joins it as the saga tests' do.
    service("order", "ORDER", { ORDER_INSTANCE_ID: `${group}-order` }),
    service("inventory", "INVENTORY", { INVENTORY_CONSUMER_GROUP: `${group}-inventory` }),
    service("coupon", "COUPON", { COUPON_CONSUMER_GROUP: `${group}-coupon` }),
  ];
}

Deno.test("order, inventory and coupon delete inbox claims past the retention and keep younger ones", async () => {
  const admin = connectAdmin({ max: 2 });
  const consumer = uniqueName("retention_test");
  const processes = services(consumer.replaceAll("_", "-"));
  try {
    for (const schema of SCHEMAS) {
      await admin`
        insert into ${admin(`${schema}.inbox`)} (consumer, message_id, processed_at) values
          (${consumer}, 'past-retention', now() - interval '41 days'),
          (${consumer}, 'inside-window', now() - interval '36 days')`;
    }
    const left = async () => {
      const rows = await admin`
        select 'orders' as s, message_id from orders.inbox where consumer = ${consumer}
        union all select 'inventory', message_id from inventory.inbox where consumer = ${consumer}
        union all select 'coupons', message_id from coupons.inbox where consumer = ${consumer}
        order by 1, 2`;
      return rows.map((r) => `${r.s}:${r.message_id}`);
    };

    for (const p of processes) p.start();
    await Promise.all(processes.map((p) => p.ready(60_000)));
    const expected = SCHEMAS.map((s) => `${s}:inside-window`).sort();
    await eventually(
      "every service to clean its inbox",
      async () => (await left()).join() === expected.join() ? true : undefined,
      20_000,
    ).catch(() => {});
    assert.deepEqual(await left(), expected);
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    for (const schema of SCHEMAS) {
      await admin`delete from ${admin(`${schema}.inbox`)} where consumer = ${consumer}`;
    }
    await admin.end();
  }
});
