/**
 * LZ4 compression for kafkajs (SPEC §10.1 asks for lz4). kafkajs ships only
 * gzip; this codec uses the pure-JavaScript `lz4js` (LZ4 frame format, which
 * is what Kafka's LZ4 compression type stores), so no native module is needed.
 *
 * @module
 */
import kafkajs from "kafkajs";
import lz4 from "lz4js";
import { Buffer } from "node:buffer";

const { CompressionCodecs, CompressionTypes } = kafkajs;

interface Encoder {
  buffer: Buffer;
}

function lz4Codec() {
  return () => ({
    compress(encoder: Encoder): Promise<Buffer> {
      return Promise.resolve(Buffer.from(lz4.compress(encoder.buffer)));
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
