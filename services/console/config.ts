/**
 * Every setting of the console, read from the environment once. The console
 * holds no data of its own: it calls the other services' APIs with the
 * caller's token, reads Jaeger's query API and scrapes `/metrics`.
 *
 * @module
 */
import { envInt, envString } from "../../kit/env.ts";

export interface ConsoleConfig {
  httpHost: string;
  /** CONSOLE_HTTP_PORT (default 7106). */
  httpPort: number;
  /** Where the other processes answer; CONSOLE_<NAME>_URL, else their default port. */
  upstream: {
    order: string;
    inventory: string;
    coupon: string;
    point: string;
    deadletter: string;
    relay: string;
  };
  /** KAFKA_BROKERS: the brokers the system panel checks. */
  kafkaBrokers: string[];
  /** JAEGER_QUERY_URL. */
  jaegerQueryUrl: string;
  /** The OTEL_SERVICE_NAME the order service traces under (CONSOLE_ORDER_TRACE_SERVICE, "order"). */
  orderTraceService: string;
  /** How long one upstream call may take (CONSOLE_UPSTREAM_TIMEOUT_MS, 5 s). */
  upstreamTimeoutMs: number;
}

function upstream(name: string, portVar: string, port: number): string {
  const explicit = Deno.env.get(`CONSOLE_${name}_URL`);
  if (explicit) return explicit.replace(/\/+$/, "");
  return `http://127.0.0.1:${envInt(portVar, port, 1, 65535)}`;
}

export function loadConsoleConfig(): ConsoleConfig {
  return {
    httpHost: envString("CONSOLE_HTTP_HOST", "127.0.0.1"),
    httpPort: envInt("CONSOLE_HTTP_PORT", 7106, 0, 65535),
    upstream: {
      order: upstream("ORDER", "ORDER_HTTP_PORT", 7101),
      inventory: upstream("INVENTORY", "INVENTORY_HTTP_PORT", 7102),
      coupon: upstream("COUPON", "COUPON_HTTP_PORT", 7103),
      point: upstream("POINT", "POINT_HTTP_PORT", 7104),
      deadletter: upstream("DEADLETTER", "DEADLETTER_HTTP_PORT", 7105),
      relay: upstream("RELAY", "RELAY_HTTP_PORT", 7070),
    },
    kafkaBrokers: envString("KAFKA_BROKERS", "127.0.0.1:59091,127.0.0.1:59092,127.0.0.1:59093")
      .split(",").map((b) => b.trim()).filter(Boolean),
    jaegerQueryUrl: envString("JAEGER_QUERY_URL", "http://127.0.0.1:56686").replace(/\/+$/, ""),
    orderTraceService: envString("CONSOLE_ORDER_TRACE_SERVICE", "order"),
    upstreamTimeoutMs: envInt("CONSOLE_UPSTREAM_TIMEOUT_MS", 5_000, 100),
  };
}
