/**
 * What a chaos run starts from, made through the services' admin APIs:
 * products (two scarce — stock for about half of their demand — so some orders fail and are compensated), users with
 * points, each with a few coupons, and a probe user and product for the
 * recovery probes. Everything is named `chaos-<run>-…`, so the checks find
 * exactly this run's rows.
 *
 * @module
 */
import { Client, type Suite } from "../tests/support/suite.ts";
import { callRetrying } from "./http.ts";

export interface ChaosUser {
  client: Client;
  /** Points granted at seed time (no grants later: conservation is exact). */
  granted: number;
  /** Coupons granted to this user, in grant order. */
  coupons: string[];
}

export interface World {
  run: string;
  prefix: string;
  /** Product id → initial stock. */
  products: Map<string, number>;
  users: ChaosUser[];
  probe: ChaosUser;
  probeProduct: string;
  admin: Client;
  /** Coupons granted so far (seed and during the run). */
  couponGrants: number;
}

const PRODUCTS = 8;
const SCARCE = 2;

async function expectCreated(what: string, p: Promise<{ status: number; body: unknown }>) {
  const res = await p;
  // 409: a retried request whose first attempt did create it.
  if (res.status !== 200 && res.status !== 201 && res.status !== 409) {
    throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

/** Grants one coupon (explicit id, so a retry cannot grant two). */
export async function grantCoupon(suite: Suite, world: World, user: ChaosUser): Promise<string> {
  const id = `${world.prefix}-c${world.couponGrants++}`;
  await expectCreated(
    `coupon ${id}`,
    callRetrying(world.admin, [suite.coupon], "POST", "/admin/coupons", {
      id,
      userId: user.client.userId,
      discount: 100,
    }),
  );
  user.coupons.push(id);
  return id;
}

export async function seedWorld(
  suite: Suite,
  users: number,
  scarceStock = 60,
): Promise<World> {
  const run = crypto.randomUUID().slice(0, 8);
  const prefix = `chaos-${run}`;
  const admin = Client.admin();
  const world: World = {
    run,
    prefix,
    products: new Map(),
    users: [],
    probe: { client: new Client(`${prefix}-probe`), granted: 1_000_000, coupons: [] },
    probeProduct: `${prefix}-probe`,
    admin,
    couponGrants: 0,
  };
  const product = async (id: string, stock: number) => {
    await expectCreated(
      `product ${id}`,
      callRetrying(admin, [suite.inventory], "POST", "/products", {
        id,
        name: id,
        price: 100,
        stock,
      }),
    );
    world.products.set(id, stock);
  };
  for (let i = 0; i < PRODUCTS; i++) {
    await product(`${prefix}-p${i}`, i < SCARCE ? Math.round(scarceStock) : 1_000_000);
  }
  await product(world.probeProduct, 1_000_000);
  const grantPoints = async (u: ChaosUser) => {
    const res = await callRetrying(admin, [suite.point], "POST", "/admin/points/grant", {
      userId: u.client.userId,
      amount: u.granted,
    });
    if (res.status !== 200) throw new Error(`points for ${u.client.userId}: ${res.status}`);
  };
  await grantPoints(world.probe);
  for (let i = 0; i < users; i++) {
    const u: ChaosUser = {
      client: new Client(`${prefix}-u${i}`),
      granted: 3_000 + Math.floor(Math.random() * 3_000),
      coupons: [],
    };
    await grantPoints(u);
    for (let k = 0; k < 2; k++) await grantCoupon(suite, world, u);
    world.users.push(u);
  }
  return world;
}
