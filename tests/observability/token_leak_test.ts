/**
 * Issue 15 item 9: bearer tokens stay out of every recorded URL, span
 * attribute and log line. Real processes (an order service, the console in
 * front of it) with Deno's built-in OpenTelemetry exporting to a Jaeger run
 * with the suite's config (infra/jaeger/config.yaml), which has no
 * authentication: whatever it stores, anyone who can reach it reads.
 *
 * The run opens sockets the supported way (the token as a subprotocol,
 * directly and through the console), the way old clients did (the token in
 * `?access_token=`, which must be refused), and calls the console's API (which
 * calls the order service with the caller's token). Then every stored span of
 * both processes and every line they logged is searched for each token.
 */
import assert from "node:assert/strict";
import { jwtSecret } from "../../kit/env.ts";
import { issueToken } from "../../kit/http/auth.ts";
import { type Opening, openSocket } from "../../kit/http/socket_testing.ts";
import { eventually, uniqueName } from "../support/dev.ts";
import { PrivateJaeger } from "../support/private_jaeger.ts";
import { ManagedProcess, testPort } from "../support/process.ts";

interface JaegerSpan {
  operationName: string;
  tags: { key: string; value: unknown }[];
}

/** Every span Jaeger stores for `service` (the last hour), as Jaeger returns them. */
async function storedSpans(
  jaegerQueryUrl: string,
  service: string,
): Promise<{ raw: string; spans: JaegerSpan[] }> {
  const res = await fetch(`${jaegerQueryUrl}/api/traces?service=${service}&lookback=1h&limit=500`);
  const raw = await res.text();
  assert.ok(res.ok, `Jaeger answered ${res.status}: ${raw.slice(0, 200)}`);
  const body = JSON.parse(raw) as { data: { spans: JaegerSpan[] }[] };
  return { raw, spans: body.data.flatMap((t) => t.spans) };
}

const tag = (s: JaegerSpan, key: string) => s.tags.find((t) => t.key === key)?.value;

/** Which of `secrets` (by name) occur in `text`. */
function leaked(text: string, secrets: Record<string, string>): string[] {
  return Object.entries(secrets).flatMap(([name, token]) => {
    const signature = token.split(".")[2];
    return text.includes(token) || text.includes(signature) ? [name] : [];
  });
}

Deno.test({
  name: "no bearer token is in any stored span or log line after sockets and console calls",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const run = uniqueName("leak");
    const jaeger = await PrivateJaeger.start();
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint };
    const orderService = `order-${run}`;
    const consoleService = `console-${run}`;
    const order = new ManagedProcess({
      name: "order",
      script: "services/order/main.ts",
      port: testPort(),
      env: {
        ...otel,
        OTEL_SERVICE_NAME: orderService,
        ORDER_INSTANCE_ID: `e2e-${run}`,
        LOG_LEVEL: "debug",
      },
    }).withPortEnv("ORDER_HTTP_PORT");
    const consoleApp = new ManagedProcess({
      name: "console",
      script: "services/console/main.ts",
      port: testPort(),
      env: {
        ...otel,
        OTEL_SERVICE_NAME: consoleService,
        CONSOLE_ORDER_URL: `http://127.0.0.1:${order.port}`,
        LOG_LEVEL: "debug",
      },
    }).withPortEnv("CONSOLE_HTTP_PORT");
    const secret = jwtSecret();
    const tokens = {
      user: await issueToken(secret, { sub: `${run}-user` }, 3_600),
      userInUrl: await issueToken(secret, { sub: `${run}-user-url` }, 3_600),
      admin: await issueToken(secret, { sub: `${run}-admin`, roles: ["admin"] }, 3_600),
      adminInUrl: await issueToken(secret, { sub: `${run}-admin-url`, roles: ["admin"] }, 3_600),
    };
    const sockets: WebSocket[] = [];
    try {
      order.start();
      consoleApp.start();
      await Promise.all([order.ready(60_000), consoleApp.ready(60_000)]);
      const ws = (port: number, path: string, protocols?: string[]) => {
        const s = openSocket(`ws://127.0.0.1:${port}${path}`, protocols);
        sockets.push(s.ws);
        return s;
      };

      // ---- the run ----------------------------------------------------------------
      const direct = ws(order.port, "/orders/ws", ["bearer", tokens.user]);
      const directInUrl = ws(order.port, `/orders/ws?access_token=${tokens.userInUrl}`);
      const viaConsole = ws(consoleApp.port, "/api/orders/ws", ["bearer", tokens.admin]);
      const viaConsoleInUrl = ws(
        consoleApp.port,
        `/api/orders/ws?access_token=${tokens.adminInUrl}`,
      );
      const outcomes: Record<string, Opening> = {
        direct: await direct.opening,
        directInUrl: await directInUrl.opening,
        viaConsole: await viaConsole.opening,
        viaConsoleInUrl: await viaConsoleInUrl.opening,
      };
      // Through the console: its answer "connected" comes once the order service let it in.
      const relayed = await Promise.race([
        viaConsole.firstMessage,
        new Promise<string>((r) => setTimeout(() => r("(nothing in 10 s)"), 10_000)),
      ]);
      for (const token of [tokens.admin, tokens.user]) {
        const res = await fetch(`http://127.0.0.1:${consoleApp.port}/api/orders?limit=5`, {
          headers: { Authorization: `Bearer ${token}` },
        });
        const body = await res.text();
        assert.equal(res.status, 200, body);
      }
      for (const s of sockets) s.close();

      // ---- the search ---------------------------------------------------------------
      // Wait until the spans of the run are stored: the socket requests of both processes.
      let seen = "";
      const stored = await eventually(
        "the run's spans in Jaeger",
        async () => {
          const [o, c] = await Promise.all([
            storedSpans(jaeger.queryUrl, orderService),
            storedSpans(jaeger.queryUrl, consoleService),
          ]);
          // The run's server spans: 3 socket requests reached the order service
          // (direct, in the URL, relayed by the console), 2 the console, and the
          // console's 2 API calls. A span whose URL was redacted has none left.
          const at = (spans: JaegerSpan[], path: string) =>
            spans.filter((sp) => tag(sp, "url.path") === path).length;
          const redacted = (spans: JaegerSpan[]) =>
            spans.filter((sp) => tag(sp, "url.redacted") !== undefined).length;
          const counts = {
            orderSockets: at(o.spans, "/orders/ws") + at(o.spans, "/admin/orders/ws") +
              redacted(o.spans),
            consoleSockets: at(c.spans, "/api/orders/ws") + redacted(c.spans),
            consoleCalls: at(c.spans, "/api/orders"),
          };
          seen = JSON.stringify(counts);
          return counts.orderSockets >= 3 && counts.consoleSockets >= 2 && counts.consoleCalls >= 2
            ? { order: o, console: c }
            : undefined;
        },
        30_000,
        1_000,
      ).catch((err) => {
        throw new Error(`${err.message}; spans stored: ${seen}`);
      });
      assert.deepEqual(
        {
          order: leaked(stored.order.raw, tokens),
          console: leaked(stored.console.raw, tokens),
        },
        { order: [], console: [] },
        "tokens found in spans stored in Jaeger: " +
          [...stored.order.spans, ...stored.console.spans]
            .flatMap((s) => s.tags.filter((t) => leaked(String(t.value), tokens).length > 0))
            .map((t) => `${t.key}=${t.value}`).join(", "),
      );
      for (const p of [order, consoleApp]) {
        assert.deepEqual(leaked(p.logs(), tokens), [], `tokens in the ${p.name}'s log lines`);
      }
      // The two requests with a token in the URL reached Jaeger, without their URL.
      const redacted = [...stored.order.spans, ...stored.console.spans]
        .filter((sp) => tag(sp, "url.redacted") !== undefined);
      assert.equal(redacted.length, 2, JSON.stringify(redacted.map((sp) => sp.tags)));

      // ---- and what the clients saw -------------------------------------------------
      assert.deepEqual(outcomes.direct, { opened: true, protocol: "bearer" });
      assert.deepEqual(outcomes.viaConsole, { opened: true, protocol: "bearer" });
      assert.equal(JSON.parse(relayed).type, "connected", relayed);
      assert.equal(outcomes.directInUrl.opened, false, "a token in the URL is refused");
      assert.equal(outcomes.viaConsoleInUrl.opened, false, "a token in the URL is refused");
    } finally {
      for (const s of sockets) s.close();
      await Promise.all([order.stop(), consoleApp.stop()]);
      await jaeger.stop();
    }
  },
});
