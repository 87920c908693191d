/**
 * The alert rules (infra/prometheus/alerts.yml, SPEC §8.2 / §12.3) are valid
 * and do what they say: `promtool check rules` and `promtool test rules`
 * over alerts_test.yml, which makes every alert fire on the data it is meant
 * for and stay quiet on healthy data. The Prometheus config the start command
 * uses is checked too.
 */
import assert from "node:assert/strict";

const DIR = new URL("../../infra/prometheus/", import.meta.url).pathname;

async function promtool(...args: string[]): Promise<{ ok: boolean; out: string }> {
  const out = await new Deno.Command("promtool", {
    args,
    cwd: DIR,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return { ok: out.success, out: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test("promtool check rules: the alert rules are valid", async () => {
  const r = await promtool("check", "rules", "alerts.yml");
  assert.ok(r.ok, r.out);
  const n = Number(/SUCCESS: (\d+) rules found/.exec(r.out)?.[1] ?? 0);
  assert.ok(n >= 10, `expected the suite's alert rules, got: ${r.out}`);
});

Deno.test("promtool test rules: every alert fires when it should and only then", async () => {
  const r = await promtool("test", "rules", "alerts_test.yml");
  assert.ok(r.ok, r.out);
  assert.match(r.out, /SUCCESS/);
});

Deno.test("every alert of alerts.yml is exercised by alerts_test.yml", async () => {
  const rules = await Deno.readTextFile(`${DIR}alerts.yml`);
  const tests = await Deno.readTextFile(`${DIR}alerts_test.yml`);
  const alerts = [...rules.matchAll(/^\s*- alert: (\w+)/gm)].map((m) => m[1]);
  const tested = new Set([...tests.matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
  // A test that expects an alert to fire (exp_alerts not empty) for each one.
  const fired = new Set(
    [...tests.matchAll(/alertname: (\w+)\n\s*exp_alerts:\n\s*- exp_labels/g)].map((m) => m[1]),
  );
  for (const a of alerts) {
    assert.ok(tested.has(a), `alert ${a} has no test in alerts_test.yml`);
    assert.ok(fired.has(a), `alert ${a} is never expected to fire in alerts_test.yml`);
  }
  // SPEC §8.2 / §12.3 and issue #8: the thresholds the rules must cover.
  for (
    const a of [
      "MessageLatencyHigh",
      "HttpErrorRateHigh",
      "ConsumerErrorRateHigh",
      "OrderBacklogHigh",
      "OrderNotFinishedIn5s",
      "ConsumerLagHigh",
      "DeadLettersNonRetryable",
      "RelayBehind",
    ]
  ) assert.ok(alerts.includes(a), `alert ${a} missing from alerts.yml`);
});

Deno.test("promtool check config: the Prometheus config scrapes every process", async () => {
  // The checked-in file refers to alerts.yml relatively, as it is in this folder.
  const r = await promtool("check", "config", "prometheus.yml");
  assert.ok(r.ok, r.out);
  const cfg = await Deno.readTextFile(`${DIR}prometheus.yml`);
  for (const job of ["relay", "order", "inventory", "coupon", "point", "deadletter", "console"]) {
    assert.match(cfg, new RegExp(`job_name: ${job}\\n`), `no scrape job ${job}`);
  }
});
