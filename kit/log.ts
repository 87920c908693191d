/**
 * Structured logs: one JSON object per line with time, level, service and
 * message, plus the active trace and span ids when there are any, so a log
 * line leads to its trace in Jaeger (SPEC §8).
 *
 * @module
 */
import { trace } from "@opentelemetry/api";

export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A logger for one process or component; `LOG_LEVEL` sets the threshold. */
export function createLogger(service: string, minLevel: Level = levelFromEnv()): Logger {
  const write = (level: Level, message: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < ORDER[minLevel]) return;
    const ctx = trace.getActiveSpan()?.spanContext();
    const line: Record<string, unknown> = {
      time: new Date().toISOString(),
      level,
      service,
      message,
    };
    if (ctx && ctx.traceId !== "00000000000000000000000000000000") {
      line.trace_id = ctx.traceId;
      line.span_id = ctx.spanId;
    }
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        line[k] = v instanceof Error ? errorFields(v) : v;
      }
    }
    const text = JSON.stringify(line, (_k, v) => typeof v === "bigint" ? v.toString() : v);
    if (level === "error" || level === "warn") console.error(text);
    else console.log(text);
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}

function errorFields(err: Error): Record<string, unknown> {
  return {
    name: err.name,
    message: err.message,
    ...(err.cause ? { cause: String(err.cause) } : {}),
  };
}

function levelFromEnv(): Level {
  const v = Deno.env.get("LOG_LEVEL")?.toLowerCase();
  return v === "debug" || v === "info" || v === "warn" || v === "error" ? v : "info";
}
