/**
 * Test helpers that drive the real infrastructure through `./dev` (broker
 * kills, restarts), exactly as an operator or the chaos suite would.
 *
 * @module
 */
const ROOT = new URL("../../", import.meta.url).pathname;

/** Runs `./dev ARGS…` and returns its output; throws with the output on failure. */
export async function dev(...args: string[]): Promise<string> {
  const out = await new Deno.Command(`${ROOT}dev`, {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`./dev ${args.join(" ")} failed (${out.code}):\n${text}`);
  return text;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` until it returns a value other than undefined, or times out. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
}

/** A name unique to this test run, for topics, slots, keys. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${crypto.randomUUID().slice(0, 8)}`;
}
