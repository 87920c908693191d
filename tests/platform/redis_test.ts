/**
 * Platform: the suite's Redis keeps data across restarts through its
 * append-only file (RDB snapshots are off, so only the AOF can bring it back).
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { infraConfig } from "../../kit/env.ts";
import { dev, sleep, uniqueName } from "../support/dev.ts";

const { redis } = infraConfig();

function connect() {
  return new Redis({
    host: redis.host,
    port: redis.port,
    password: redis.password,
    lazyConnect: true,
  });
}

Deno.test("redis keeps a key across a clean restart and a SIGKILL (AOF)", async () => {
  const key = uniqueName("platform:aof");
  let client = connect();
  try {
    await client.connect();
    assert.equal(await client.config("GET", "appendonly").then((r) => (r as string[])[1]), "yes");
    assert.equal(await client.config("GET", "save").then((r) => (r as string[])[1]), "");

    await client.set(`${key}:clean`, "survives shutdown");
    client.disconnect();
    await dev("redis", "restart");
    client = connect();
    await client.connect();
    assert.equal(await client.get(`${key}:clean`), "survives shutdown");

    await client.set(`${key}:kill`, "survives sigkill");
    // appendfsync everysec: give the AOF its fsync before the crash.
    await sleep(1_500);
    client.disconnect();
    await dev("redis", "kill");
    await dev("redis", "up");
    client = connect();
    await client.connect();
    assert.equal(await client.get(`${key}:kill`), "survives sigkill");
    await client.del(`${key}:clean`, `${key}:kill`);
  } finally {
    client.disconnect();
  }
});
