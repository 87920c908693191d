/**
 * For the benchmarks' own tests: run a benchmark command as a user would,
 * with a small load, and keep what it printed.
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url).pathname;

/** Runs `bench/<script>` with `env` added; its exit code, stdout, and both streams together. */
export async function runBench(
  script: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number; stdout: string; all: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}bench/${script}`],
    env,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const text = new TextDecoder();
  const out = text.decode(stdout);
  return { code, stdout: out, all: `${out}\n${text.decode(stderr)}` };
}
