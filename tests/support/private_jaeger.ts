/**
 * A Jaeger of a test's own: the suite's binary with the suite's config
 * (infra/jaeger/config.yaml) on free ports, so a test can check what that
 * config stores (a changed config is tried without restarting the shared
 * Jaeger, and the test sees only its own spans).
 *
 * @module
 */
import { eventually } from "./dev.ts";
import { testPort } from "./process.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The Jaeger binary infra/install.sh built (`.tools/jaeger-<version>/jaeger`). */
async function jaegerBinary(): Promise<string> {
  for await (const e of Deno.readDir(`${ROOT}.tools`)) {
    if (e.isDirectory && e.name.startsWith("jaeger-")) return `${ROOT}.tools/${e.name}/jaeger`;
  }
  throw new Error("no Jaeger in .tools/ (infra/install.sh jaeger)");
}

export class PrivateJaeger {
  private constructor(
    readonly child: Deno.ChildProcess,
    /** Where processes send OTLP over http (OTEL_EXPORTER_OTLP_ENDPOINT). */
    readonly otlpEndpoint: string,
    /** The query API, e.g. `${queryUrl}/api/traces?service=…`. */
    readonly queryUrl: string,
  ) {}

  static async start(): Promise<PrivateJaeger> {
    const ports = {
      JAEGER_QUERY_PORT: testPort(),
      JAEGER_QUERY_GRPC_PORT: testPort(),
      JAEGER_HEALTH_PORT: testPort(),
      JAEGER_OTLP_GRPC_PORT: testPort(),
      JAEGER_OTLP_HTTP_PORT: testPort(),
    };
    const child = new Deno.Command(await jaegerBinary(), {
      args: ["--config", `file:${ROOT}infra/jaeger/config.yaml`],
      env: Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let said = ""; // the end of what it logged, for when it does not come up
    child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void (said = (said + chunk).slice(-2_000)) }),
    ).catch(() => {});
    const jaeger = new PrivateJaeger(
      child,
      `http://127.0.0.1:${ports.JAEGER_OTLP_HTTP_PORT}`,
      `http://127.0.0.1:${ports.JAEGER_QUERY_PORT}`,
    );
    await eventually(
      "the private Jaeger to answer",
      async () => {
        try {
          const res = await fetch(`${jaeger.queryUrl}/api/services`);
          await res.body?.cancel();
          return res.ok || undefined;
        } catch {
          return undefined;
        }
      },
      30_000,
      200,
    ).catch(async (err) => {
      await jaeger.stop();
      throw new Error(`${err.message}; it said: ${said}`);
    });
    return jaeger;
  }

  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* gone */ }
    await this.child.status;
  }
}
