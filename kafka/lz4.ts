/**
 * LZ4 for kafkajs (SPEC §10.1 asks for lz4 compression). kafkajs ships only
 * gzip, so this registers a codec built on the pure-JavaScript `lz4js`.
 *
 * Only the decoding half is used. Our topics are created with
 * `compression.type=lz4` (topics.ts): producers send uncompressed batches and
 * the brokers store, replicate and serve them LZ4-compressed; consumers
 * decode the standard LZ4 frames the brokers write. We do not compress on the
 * producer side: lz4js' block encoder produced blocks that Kafka's decoder
 * rejects ("Error decoding offset …") for some inputs, which our relay tests
 * caught, and a codec that corrupts a batch is worse than none.
 *
 * @module
 */
import kafkajs from "./kafkajs.ts";
import lz4 from "lz4js";
import { Buffer } from "node:buffer";

const { CompressionCodecs, CompressionTypes } = kafkajs;

function lz4Codec() {
  return () => ({
    compress(): Promise<Buffer> {
      return Promise.reject(
        new Error(
          "LZ4 is applied by the brokers (compression.type=lz4); producers send uncompressed",
        ),
      );
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
