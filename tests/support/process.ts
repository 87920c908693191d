/**
 * A process of the suite started by a test (a relay, a service), with its
 * output kept for when an assertion fails, and the ways tests end processes:
 * SIGKILL (a crash), SIGTERM (a clean stop), SIGSTOP/SIGCONT (a pause).
 *
 * @module
 */
import { eventually, sleep } from "./dev.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

let nextPort = 17_100 + Math.floor(Math.random() * 800);

/** A free-enough port for a test process (a random block per test run). */
export function testPort(): number {
  return nextPort++;
}

/**
 * SUITE_CPU_PROF_DIR: every process a test or benchmark starts writes a V8
 * CPU profile there when it stops (a look at where a benchmark's CPU goes).
 */
function profileFlags(): string[] {
  const dir = Deno.env.get("SUITE_CPU_PROF_DIR");
  return dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
}

export class ManagedProcess {
  readonly name: string;
  readonly port: number;
  #script: string;
  #env: Record<string, string>;
  #denoFlags: string[];
  #child: Deno.ChildProcess | null = null;
  #log: string[] = [];

  /** `script` is relative to the repository; `denoFlags` go before it (e.g. `--cpu-prof`). */
  constructor(
    opts: {
      name: string;
      script: string;
      port: number;
      env: Record<string, string>;
      denoFlags?: string[];
    },
  ) {
    this.name = opts.name;
    this.port = opts.port;
    this.#script = opts.script;
    this.#env = opts.env;
    this.#denoFlags = opts.denoFlags ?? [];
  }

  /** Passes the port to the process under this environment variable name. */
  withPortEnv(name: string): this {
    this.#env = { ...this.#env, [name]: String(this.port) };
    return this;
  }

  start(): this {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ...this.#denoFlags, ...profileFlags(), `${ROOT}${this.#script}`],
      env: {
        LOG_LEVEL: "warn",
        // Deno's built-in OpenTelemetry, as ./dev runs the apps (issue #8):
        // spans go to the suite's Jaeger (OTEL_EXPORTER_OTLP_ENDPOINT from ./dev)
        // under the process's service name: `order-1` reports as `order`.
        OTEL_DENO: "true",
        OTEL_DENO_CONSOLE: "ignore", // log lines stay on stdout; Jaeger takes no OTLP logs
        OTEL_SERVICE_NAME: this.name.replace(/-\d+$/, ""),
        ...this.#env,
      },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    for (const stream of [this.#child.stdout, this.#child.stderr]) {
      (async () => {
        const decoder = new TextDecoder();
        for await (const chunk of stream) {
          this.#log.push(decoder.decode(chunk));
          if (this.#log.length > 300) this.#log.shift();
        }
      })().catch(() => {});
    }
    return this;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  /** The process id while it runs (Deno.Command spawns deno itself: this is the process). */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  signal(sig: Deno.Signal): void {
    try {
      this.#child?.kill(sig);
    } catch { /* already gone */ }
  }

  async kill(): Promise<void> {
    if (!this.#child) return;
    this.signal("SIGCONT");
    this.signal("SIGKILL");
    await this.#child.status;
    this.#child = null;
  }

  async stop(): Promise<void> {
    if (!this.#child) return;
    this.signal("SIGCONT");
    this.signal("SIGTERM");
    const done = await Promise.race([
      this.#child.status.then(() => true),
      sleep(10_000).then(() => false),
    ]);
    if (!done) await this.kill();
    this.#child = null;
  }

  /** GET a path on the process's HTTP port; undefined when it does not answer. */
  async get<T = unknown>(path: string): Promise<T | undefined> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.port}${path}`, {
        signal: AbortSignal.timeout(1_000),
      });
      return await res.json() as T;
    } catch {
      return undefined;
    }
  }

  /** Waits until GET /health answers 200. */
  async ready(timeoutMs = 30_000): Promise<this> {
    await eventually(
      `${this.name} to be ready`,
      async () => {
        try {
          const res = await fetch(`http://127.0.0.1:${this.port}/health`, {
            signal: AbortSignal.timeout(1_000),
          });
          await res.body?.cancel();
          return res.ok ? true : undefined;
        } catch {
          return undefined;
        }
      },
      timeoutMs,
      100,
    );
    return this;
  }

  logs(): string {
    return this.#log.join("");
  }
}
