// CRC-32 (IEEE 802.3, the polynomial zlib and gzip use) over a record's
// payload. Node's zlib has it built in from 20.15 and 22.2; older 20.x get
// the same function from a table, so files move freely between versions.

import * as zlib from 'node:zlib'

const TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/** The table-driven CRC-32; exported so a test can check it against zlib's. */
export function crc32Table(data: Uint8Array, initial = 0): number {
  let crc = (initial ^ 0xffffffff) >>> 0
  for (let index = 0; index < data.length; index++) {
    crc = (TABLE[(crc ^ (data[index] as number)) & 0xff] as number) ^ (crc >>> 8)
  }
  return (crc ^ 0xffffffff) >>> 0
}

const builtIn = (zlib as { crc32?: (data: Uint8Array, initial?: number) => number }).crc32

/** CRC-32 of `data`, continuing from `initial` (the CRC of what came before). */
export const crc32: (data: Uint8Array, initial?: number) => number =
  typeof builtIn === 'function' ? (data, initial = 0) => builtIn(data, initial) : crc32Table
