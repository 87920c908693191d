/**
 * Run with OTEL_DENO=true: appends one event as order_service inside an
 * active span, and prints `{ eventId, traceparent }` (the span's own W3C
 * traceparent) as JSON, for db/outbox_test.ts to compare with the row.
 */
import { trace } from "@opentelemetry/api";
import { connectService } from "../connect.ts";
import { appendOutbox } from "../outbox.ts";

const aggregateId = Deno.args[0];
const sql = connectService("order_service", { max: 1 });
try {
  const result = await trace.getTracer("db-test").startActiveSpan("append", async (span) => {
    try {
      const eventId = await sql.begin((tx) =>
        appendOutbox(tx, {
          aggregateType: "order",
          aggregateId,
          eventType: "OrderCreated",
          topic: "order-events",
          key: "user-1",
          payload: { orderId: aggregateId },
        })
      );
      const { traceId, spanId, traceFlags } = span.spanContext();
      const flags = traceFlags.toString(16).padStart(2, "0");
      return { eventId, traceparent: `00-${traceId}-${spanId}-${flags}` };
    } finally {
      span.end();
    }
  });
  console.log(JSON.stringify(result));
} finally {
  await sql.end();
}
