import assert from "node:assert/strict";
import lz4 from "lz4js";
import { lz4Frame } from "./lz4.ts";

Deno.test("lz4Frame() round-trips through a standard LZ4 frame decoder", () => {
  const text = new TextEncoder().encode(
    JSON.stringify({ event: "OrderPlaced", n: 1 }).repeat(5_000),
  );
  const random = new Uint8Array(70_000).map(() => Math.floor(Math.random() * 256));
  for (const src of [new Uint8Array(0), new Uint8Array([1]), text, random]) {
    const frame = lz4Frame(src);
    assert.equal(frame[4] & 0x20, 0x20, "block-independence flag set");
    assert.deepEqual(lz4.decompress(frame), src);
  }
  assert.ok(lz4Frame(text).length < text.length / 4, "repetitive JSON compresses");
});
