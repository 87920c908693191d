/**
 * The short chaos run (issue #7; the full one is `deno task chaos`): orders
 * with coupons and points flow while three broker SIGKILLs, a SIGKILL of the
 * relay and of each service, and a Postgres and a Redis restart happen one
 * after the other; then every saga must have ended, stock, points and
 * coupons conserve, no effect was applied twice, every outbox event of the
 * run is in Kafka exactly once and no dead letter appeared. The
 * infrastructure is left up (chaos/run.ts's finally-block).
 */
import assert from "node:assert/strict";
import { FULL_RUN, parseOptions } from "../../chaos/options.ts";
import { runChaos } from "../../chaos/run.ts";
import { formatSummary, jsonLine } from "../../chaos/summary.ts";

const SHORT = {
  ...FULL_RUN,
  durationS: 60,
  ratePerS: 3,
  couponGrantsPerS: 1,
  brokerKills: 3,
  processKills: 1,
  postgresRestarts: 1,
  redisRestarts: 1,
  drainTimeoutS: 120,
  recoverTimeoutS: 90,
  fcfsRatePerS: 2,
  fcfsTotal: 20,
};

Deno.test({
  name:
    "chaos (short): brokers, relay, services killed and Postgres, Redis restarted under load; every invariant holds",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const opts = parseOptions([], Deno.env.toObject(), SHORT);
    const { summary, deadLetters, logFile } = await runChaos(opts);
    for (const line of formatSummary(summary, deadLetters)) console.log(line);
    console.log(jsonLine(summary));
    assert.deepEqual(summary.violations, [], `violations (process output in ${logFile})`);
    assert.equal(summary.kills.broker, opts.brokerKills);
    for (const kind of ["relay", "order", "inventory", "coupon", "point"] as const) {
      assert.equal(summary.kills[kind], opts.processKills, kind);
    }
    assert.equal(summary.kills.postgres, opts.postgresRestarts);
    assert.equal(summary.kills.redis, opts.redisRestarts);
    assert.ok(summary.orders.completed > 0 && summary.orders.cancelled > 0, "both outcomes");
    assert.ok(summary.couponGrants > 0, "coupons were granted during the run");
    assert.ok((summary.fcfs?.stored ?? 0) > 0, "FCFS coupons were issued during the run");
  },
});
