/**
 * The whole suite as processes for end-to-end tests: the outbox relay on the
 * real slot (standby if `./dev up`'s relay already holds it), two order
 * service instances, inventory, coupon and point — and a client that talks
 * to them over HTTP with signed tokens, as a user or an admin would.
 *
 * @module
 */
import { jwtSecret } from "../../kit/env.ts";
import { issueToken } from "../../kit/http/auth.ts";
import { eventually } from "./dev.ts";
import { ManagedProcess, testPort } from "./process.ts";

export interface SuiteOptions {
  /** Saga deadline of the order services (ms). */
  sagaDeadlineMs?: number;
  /** Consumer retry delay (ms): short in tests. */
  retryDelayMs?: number;
  /** The dead-letter service's periodic replay (ms; default SPEC §9.2's 5 min). */
  deadLetterReplayMs?: number;
}

export class Suite {
  readonly relay: ManagedProcess;
  readonly orders: ManagedProcess[];
  readonly inventory: ManagedProcess;
  readonly coupon: ManagedProcess;
  readonly point: ManagedProcess;
  readonly deadletter: ManagedProcess;

  constructor(opts: SuiteOptions = {}) {
    const common = { CONSUMER_RETRY_DELAY_MS: String(opts.retryDelayMs ?? 200) };
    this.relay = new ManagedProcess({
      name: "relay",
      script: "outbox-relay/main.ts",
      port: testPort(),
      env: { RELAY_INSTANCE_ID: `e2e-relay-${Deno.pid}` },
    }).withPortEnv("RELAY_HTTP_PORT");
    this.orders = [0, 1].map((i) =>
      new ManagedProcess({
        name: `order-${i}`,
        script: "services/order/main.ts",
        port: testPort(),
        env: {
          ...common,
          ORDER_INSTANCE_ID: `e2e-order-${i}-${Deno.pid}`,
          ORDER_SAGA_DEADLINE_MS: String(opts.sagaDeadlineMs ?? 30_000),
          ORDER_DEADLINE_SWEEP_MS: "200",
        },
      }).withPortEnv("ORDER_HTTP_PORT")
    );
    this.inventory = new ManagedProcess({
      name: "inventory",
      script: "services/inventory/main.ts",
      port: testPort(),
      env: common,
    })
      .withPortEnv("INVENTORY_HTTP_PORT");
    this.coupon = new ManagedProcess({
      name: "coupon",
      script: "services/coupon/main.ts",
      port: testPort(),
      env: common,
    })
      .withPortEnv("COUPON_HTTP_PORT");
    this.point = new ManagedProcess({
      name: "point",
      script: "services/point/main.ts",
      port: testPort(),
      env: common,
    })
      .withPortEnv("POINT_HTTP_PORT");
    this.deadletter = new ManagedProcess({
      name: "deadletter",
      script: "services/deadletter/main.ts",
      port: testPort(),
      env: { DEADLETTER_REPLAY_INTERVAL_MS: String(opts.deadLetterReplayMs ?? 300_000) },
    })
      .withPortEnv("DEADLETTER_HTTP_PORT");
  }

  get all(): ManagedProcess[] {
    return [
      this.relay,
      ...this.orders,
      this.inventory,
      this.coupon,
      this.point,
      this.deadletter,
    ];
  }

  async start(): Promise<this> {
    for (const p of this.all) p.start();
    await Promise.all(this.all.map((p) => p.ready(60_000)));
    return this;
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((p) => p.stop()));
  }

  /** Everything the processes printed: for a failing test's message. */
  logs(): string {
    return this.all.map((p) => `----- ${p.name}\n${p.logs()}`).join("\n");
  }
}

/** An HTTP client for one user (or an admin) of the suite. */
export class Client {
  #token: Promise<string>;

  constructor(readonly userId: string, roles: string[] = []) {
    this.#token = issueToken(jwtSecret(), { sub: userId, roles }, 3_600);
  }

  static admin(): Client {
    return new Client("e2e-admin", ["admin"]);
  }

  async call<T = Record<string, unknown>>(
    service: ManagedProcess,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: T }> {
    const res = await fetch(`http://127.0.0.1:${service.port}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${await this.#token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() as T };
  }

  async token(): Promise<string> {
    return await this.#token;
  }
}

export interface OrderView {
  orderId: string;
  status: string;
  mode: string;
  reason: string | null;
  steps: { step: string; state: string; reason?: string }[];
  history?: { note: string }[];
}

/** Polls an order until its saga has settled (final status, nothing in flight). */
export async function settled(
  client: Client,
  order: ManagedProcess,
  orderId: string,
  timeoutMs = 60_000,
) {
  return await eventually(
    `order ${orderId} to settle`,
    async () => {
      const res = await client.call<OrderView>(order, "GET", `/orders/${orderId}`);
      const o = res.body;
      const busy = o.steps?.some((s) => s.state === "REQUESTED" || s.state === "COMPENSATING");
      return (o.status === "COMPLETED" || o.status === "CANCELLED") && !busy ? o : undefined;
    },
    timeoutMs,
    100,
  );
}

/** Creates a product through the inventory API as an admin; its id. */
export async function createProduct(
  suite: Suite,
  p: { id: string; name?: string; price?: number; stock: number },
): Promise<string> {
  const res = await Client.admin().call(suite.inventory, "POST", "/products", {
    name: p.id,
    price: 1_000,
    ...p,
  });
  if (res.status !== 201) {
    throw new Error(`product ${p.id}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return p.id;
}
