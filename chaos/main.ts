/**
 * `deno task chaos` (through `./dev deno task chaos`): the chaos suite of
 * issue #7. Orders and coupon grants flow steadily while brokers, the relay
 * and every service are SIGKILLed and restarted and Postgres and Redis are
 * restarted; then everything drains and the invariants are checked. Prints a
 * summary and, last, one JSON line; exits 1 on any violation.
 *
 * Options: `--duration=S --rate=N --broker-kills=N --process-kills=N …`
 * (chaos/options.ts), or CHAOS_* variables.
 *
 * @module
 */
import { parseOptions, USAGE } from "./options.ts";
import { runChaos } from "./run.ts";
import { formatSummary, jsonLine } from "./summary.ts";

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(USAGE);
    Deno.exit(0);
  }
  let opts;
  try {
    opts = parseOptions(Deno.args);
  } catch (err) {
    console.error((err as Error).message);
    Deno.exit(2);
  }
  const { summary, deadLetters, logFile } = await runChaos(opts);
  for (const line of formatSummary(summary, deadLetters)) console.log(line);
  if (summary.violations.length > 0) console.log(`  the processes' last output: ${logFile}`);
  console.log(jsonLine(summary));
  Deno.exit(summary.violations.length > 0 ? 1 : 0);
}
