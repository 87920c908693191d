import assert from "node:assert/strict";
import { memoryEnvironment } from "./memory_settings.ts";

Deno.test("the relay's memory settings go into its environment, ahead of DENO_V8_FLAGS already set", () => {
  const env = memoryEnvironment({ PATH: "/bin", DENO_V8_FLAGS: "--max-semi-space-size=4" })!;
  assert.equal(env.PATH, "/bin");
  assert.equal(
    env.DENO_V8_FLAGS,
    "--max-semi-space-size=1,--max-old-space-size=256,--max-semi-space-size=4",
  );
  assert.equal(env.MALLOC_MMAP_THRESHOLD_, "65536");
  assert.equal(env.MALLOC_ARENA_MAX, "2");
  assert.equal(env.RELAY_MEMORY_SETTINGS_APPLIED, "1");
});

Deno.test("a process that already applied the memory settings is left as it is", () => {
  assert.equal(memoryEnvironment({ RELAY_MEMORY_SETTINGS_APPLIED: "1" }), null);
});

Deno.test("empty RELAY_V8_FLAGS and RELAY_MALLOC_* turn the settings off one by one", () => {
  const off = { RELAY_V8_FLAGS: "", RELAY_MALLOC_MMAP_THRESHOLD: "", RELAY_MALLOC_ARENA_MAX: "" };
  assert.equal(memoryEnvironment(off), null);
  const v8Only = memoryEnvironment({ ...off, RELAY_V8_FLAGS: "--max-semi-space-size=2" })!;
  assert.equal(v8Only.DENO_V8_FLAGS, "--max-semi-space-size=2");
  assert.equal(v8Only.MALLOC_MMAP_THRESHOLD_, undefined);
  assert.equal(v8Only.MALLOC_ARENA_MAX, undefined);
});

Deno.test("a malloc setting already in the environment wins over the relay's default", () => {
  assert.equal(memoryEnvironment({ MALLOC_ARENA_MAX: "4" })!.MALLOC_ARENA_MAX, "4");
});
