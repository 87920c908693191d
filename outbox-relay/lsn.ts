/**
 * WAL positions ("LSNs", written `X/Y` in hex) as comparable numbers.
 *
 * @module
 */

/** Parses `16/B374D848` into a bigint. */
export function parseLsn(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!m) throw new Error(`not an LSN: ${JSON.stringify(lsn)}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** Formats a bigint position as `X/Y`. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${
    (lsn & 0xffffffffn).toString(16).toUpperCase()
  }`;
}

export const ZERO_LSN = 0n;
