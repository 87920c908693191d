/**
 * LZ4 compression for kafkajs (SPEC §10.1 asks for lz4). kafkajs ships only
 * gzip; this codec writes LZ4 frames with the pure-JavaScript `lz4js` block
 * compressor, so no native module is needed.
 *
 * Kafka's broker accepts only frames of *independent* blocks ("Dependent block
 * stream is unsupported"), and lz4js' own frame writer shares its match table
 * across blocks without saying so in the frame header. So the frame is built
 * here: 64 KiB blocks, each compressed with a fresh match table, and the
 * block-independence flag set.
 *
 * @module
 */
import kafkajs from "kafkajs";
import lz4 from "lz4js";
import xxh32 from "lz4js/xxh32.js";
import { Buffer } from "node:buffer";

const { CompressionCodecs, CompressionTypes } = kafkajs;

const MAGIC = 0x184d2204;
const FLG = 0x40 | 0x20; // version 01, independent blocks, no checksums, no size
const BD = 4 << 4; // max block size 64 KiB
const BLOCK = 0x10000;
const UNCOMPRESSED = 0x80000000;

/** Encodes `src` as one LZ4 frame of independent blocks. */
export function lz4Frame(src: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(src.length / BLOCK));
  const out = new Uint8Array(7 + blocks * (4 + BLOCK + 16) + 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  out[4] = FLG;
  out[5] = BD;
  out[6] = (xxh32.hash(0, out, 4, 2) >> 8) & 0xff;
  let at = 7;
  const scratch = new Uint8Array(lz4.compressBound(BLOCK));
  for (let from = 0; from < src.length; from += BLOCK) {
    const block = src.subarray(from, Math.min(from + BLOCK, src.length));
    const size = lz4.compressBlock(block, scratch, 0, block.length, new Uint32Array(1 << 16));
    if (size === 0 || size >= block.length) {
      view.setUint32(at, (UNCOMPRESSED | block.length) >>> 0, true);
      out.set(block, at + 4);
      at += 4 + block.length;
    } else {
      view.setUint32(at, size, true);
      out.set(scratch.subarray(0, size), at + 4);
      at += 4 + size;
    }
  }
  view.setUint32(at, 0, true); // end mark
  return out.subarray(0, at + 4);
}

interface Encoder {
  buffer: Buffer;
}

function lz4Codec() {
  return () => ({
    compress(encoder: Encoder): Promise<Buffer> {
      return Promise.resolve(Buffer.from(lz4Frame(encoder.buffer)));
    },
    decompress(buffer: Buffer): Promise<Buffer> {
      return Promise.resolve(Buffer.from(lz4.decompress(buffer)));
    },
  });
}

let registered = false;

/** Registers the codec once per process; kafkajs keeps codecs globally. */
export function registerLz4(): void {
  if (registered) return;
  CompressionCodecs[CompressionTypes.LZ4] = lz4Codec();
  registered = true;
}
