/**
 * The relay's process-wide memory settings (issue #16 item 5: RSS ≤ 150 MB
 * through bench:relay). main.ts applies them first (apply_memory_settings.ts), so the settings
 * hold wherever the relay is started: `./dev up`, `deno task run:relay`, the
 * tests' RelayProcess, bench:relay.
 *
 * Where the memory went (bench:relay, 50,000-event backlog, /proc/<pid>/smaps
 * sampled every second): the WAL reader does stop reading while paused (its
 * queue never held more than ~150 messages) and the live JS heap stayed
 * under 40 MB; what grew was garbage not yet collected. V8's young
 * generation (16 MiB semi-spaces) and its growing old-generation limit let
 * ~100 MB of dead objects accumulate, and the buffers that died with them
 * (kafkajs' encode buffers, socket reads: `external`, up to 80 MB) were
 * freed into glibc's main heap, which kept the pages: `[heap]` reached
 * 140 MB. Peak RSS 300–330 MB. With the settings below and an 8 MiB event
 * buffer (RELAY_MAX_BUFFERED_BYTES): about 150 MB (README, Memory).
 *
 * V8 sizes its heap when the process starts and glibc reads its tunables at
 * start, so neither can be changed from inside a running process. The
 * process therefore replaces itself once (execve: same pid, so signals, pid
 * files and tests' SIGKILL are unaffected) with its own command line and
 * these settings in its environment:
 *
 * - RELAY_V8_FLAGS (default `--max-semi-space-size=1,--max-old-space-size=256`):
 *   added to DENO_V8_FLAGS. Small semi-spaces make short-lived objects (and
 *   the buffers they hold) die in cheap scavenges instead of being promoted;
 *   the old-generation cap makes full collections run before dead objects
 *   pile up (128 MB: a few MB less RSS, but a third more CPU per event).
 *   The live heap is mostly the event buffer (RELAY_MAX_BUFFERED_BYTES,
 *   ~2.5 bytes of heap per byte of JSON) plus ONE Postgres transaction held
 *   whole (~0.8 KB of heap per outbox row): a transaction of more than
 *   ~200,000 outbox rows needs a larger cap, else the relay stops with
 *   "heap out of memory". `--v8-flags` on the command line still win.
 * - RELAY_MALLOC_MMAP_THRESHOLD (default 65536): glibc's MALLOC_MMAP_THRESHOLD_.
 *   Allocations from 64 KiB up get their own mapping, returned to the
 *   system when freed; without a fixed threshold glibc raises it after the
 *   first large free and serves big buffers from its heap, which it keeps.
 * - RELAY_MALLOC_ARENA_MAX (default 2): glibc's MALLOC_ARENA_MAX. Each of
 *   Deno's ~14 threads otherwise gets its own malloc arena (25–28 MB of
 *   them at the peak).
 *
 * Any of them set to "" leaves that setting out. Nothing is done where execve
 * is unavailable (no FFI permission, not Linux): the relay runs as started.
 *
 * @module
 */
import { createLogger } from "../kit/log.ts";

/** Marks a process that already replaced itself, so it never loops. */
const APPLIED = "RELAY_MEMORY_SETTINGS_APPLIED";

/** The environment the relay should run with, or null when it already does. */
export function memoryEnvironment(
  env: Record<string, string>,
): Record<string, string> | null {
  if (env[APPLIED] === "1") return null;
  const v8Flags = env.RELAY_V8_FLAGS ?? "--max-semi-space-size=1,--max-old-space-size=256";
  const malloc = {
    MALLOC_MMAP_THRESHOLD_: env.RELAY_MALLOC_MMAP_THRESHOLD ?? "65536",
    MALLOC_ARENA_MAX: env.RELAY_MALLOC_ARENA_MAX ?? "2",
  };
  if (v8Flags === "" && Object.values(malloc).every((v) => v === "")) return null;
  const out: Record<string, string> = { ...env, [APPLIED]: "1" };
  if (v8Flags !== "") {
    // Ours first: flags already in DENO_V8_FLAGS come later and win.
    out.DENO_V8_FLAGS = [v8Flags, env.DENO_V8_FLAGS].filter(Boolean).join(",");
  }
  for (const [name, value] of Object.entries(malloc)) {
    if (value !== "" && env[name] === undefined) out[name] = value; // one set by hand wins
  }
  return out;
}

/** Replaces this process with its own command line under `env`; returns only on failure. */
function execSelf(env: Record<string, string>): Error {
  try {
    const argv = Deno.readTextFileSync("/proc/self/cmdline").split("\0").slice(0, -1);
    const encoder = new TextEncoder();
    const keep: Uint8Array[] = []; // the strings must outlive the call
    const cString = (s: string) => {
      const b = encoder.encode(`${s}\0`);
      keep.push(b);
      return b;
    };
    const cArray = (list: string[]) => {
      const pointers = new BigUint64Array(list.length + 1); // NULL-terminated
      list.forEach((s, i) => {
        pointers[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(cString(s))));
      });
      return pointers;
    };
    const libc = Deno.dlopen("libc.so.6", {
      execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
    });
    libc.symbols.execve(
      cString(Deno.execPath()),
      cArray(argv),
      cArray(Object.entries(env).map(([k, v]) => `${k}=${v}`)),
    );
    libc.close();
    return new Error("execve returned");
  } catch (err) {
    return err as Error;
  }
}

/** Replaces the process with itself under the memory settings, unless it runs with them already. */
export function applyMemorySettings(): void {
  const wanted = memoryEnvironment(Deno.env.toObject());
  if (!wanted || Deno.build.os !== "linux") return;
  const err = execSelf(wanted);
  createLogger("outbox-relay").warn("relay memory settings not applied; running as started", {
    error: err.message,
  });
}
