/**
 * `./dev deno task trace <order-id>`: the order saga's trace from Jaeger, as
 * a tree of spans (service: operation, start offset, duration, errors), and
 * its trace id — README "Debug a saga". `--json` prints the spans as JSON.
 *
 * @module
 */
import { infraConfig } from "../kit/env.ts";
import { findOrderTraces, formatTree, orderTrace } from "./jaeger.ts";

const args = Deno.args.filter((a) => !a.startsWith("--"));
const json = Deno.args.includes("--json");
const orderId = args[0];
if (!orderId) {
  console.error("usage: deno task trace <order-id> [--json]");
  Deno.exit(2);
}
const { jaegerQueryUrl } = infraConfig();
const spans = await orderTrace(jaegerQueryUrl, orderId);
if (!spans) {
  console.error(
    `no trace of order ${orderId} in Jaeger (${jaegerQueryUrl}); it keeps traces in memory, ` +
      "so one from before Jaeger's last restart is gone",
  );
  Deno.exit(1);
}
if (json) {
  console.log(JSON.stringify(spans, null, 2));
} else {
  const ids = await findOrderTraces(jaegerQueryUrl, orderId);
  console.log(`order ${orderId}: trace ${spans[0].traceId}, ${spans.length} spans`);
  if (ids.length > 1) console.log(`(other traces tagged with this order: ${ids.join(", ")})`);
  console.log(formatTree(spans));
}
