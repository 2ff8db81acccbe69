// The framing every durable file uses: a sequence of records, each
//   u32 length | u32 length XOR 0xffffffff | u32 CRC-32 | payload
// (little-endian). The complement catches a damaged length before it is
// trusted, so a damaged length is never mistaken for a record cut short; the
// CRC covers the length and then the payload.
//
// Only the end of the newest log file can be torn by a crash (everything
// before it was synced before anything after it was written): a record that
// runs past the end of that file, a checksum failure in its very last record,
// or a zero-filled tail is cut there. Any other damage is corruption and is
// refused, never skipped.

import { crc32 } from './crc32.js'

export const RECORD_HEADER_BYTES = 12
/** Largest payload a record may declare (a snapshot of the application is one record). */
export const RECORD_PAYLOAD_BYTES_MAX = 1 << 30

export function encodeRecord(payload: Uint8Array): Uint8Array {
  if (payload.length > RECORD_PAYLOAD_BYTES_MAX) throw new RangeError(`record of ${payload.length} bytes exceeds the maximum`)
  const record = new Uint8Array(RECORD_HEADER_BYTES + payload.length)
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength)
  view.setUint32(0, payload.length, true)
  view.setUint32(4, ~payload.length >>> 0, true)
  record.set(payload, RECORD_HEADER_BYTES)
  view.setUint32(8, checksum(record.subarray(0, 4), payload), true)
  return record
}

export function encodeJsonRecord(value: unknown): Uint8Array {
  return encodeRecord(Buffer.from(JSON.stringify(value), 'utf8'))
}

export type DecodeResult =
  | {
      readonly ok: true
      readonly payloads: Uint8Array[]
      /** Bytes of whole, valid records from the start of the file. */
      readonly validBytes: number
      /** Bytes after `validBytes` that were a torn tail (0 when the file ended cleanly). */
      readonly tornBytes: number
    }
  | { readonly ok: false; readonly offset: number; readonly reason: string }

/**
 * Splits `data` into record payloads. With `tailMayTear` (the newest log
 * file), a torn last record is reported in `tornBytes`; without it, or for
 * damage before the last record, the result is a refusal naming the offset.
 */
export function decodeRecords(data: Uint8Array, tailMayTear: boolean): DecodeResult {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const payloads: Uint8Array[] = []
  let offset = 0
  const torn = (reason: string): DecodeResult =>
    tailMayTear ? { ok: true, payloads, validBytes: offset, tornBytes: data.length - offset } : { ok: false, offset, reason }
  while (offset < data.length) {
    const remaining = data.length - offset
    if (remaining < RECORD_HEADER_BYTES) return torn('a record header cut short')
    const length = view.getUint32(offset, true)
    if (length === 0 && isZero(data, offset)) return torn('a zero-filled tail')
    if (view.getUint32(offset + 4, true) !== ~length >>> 0 || length === 0 || length > RECORD_PAYLOAD_BYTES_MAX) {
      return { ok: false, offset, reason: 'a damaged record header' }
    }
    if (length > remaining - RECORD_HEADER_BYTES) return torn('a record cut short')
    const end = offset + RECORD_HEADER_BYTES + length
    const payload = data.subarray(offset + RECORD_HEADER_BYTES, end)
    if (view.getUint32(offset + 8, true) !== checksum(data.subarray(offset, offset + 4), payload)) {
      if (end === data.length) return torn('a checksum mismatch in the last record')
      return { ok: false, offset, reason: 'a checksum mismatch' }
    }
    payloads.push(payload)
    offset = end
  }
  return { ok: true, payloads, validBytes: offset, tornBytes: 0 }
}

function checksum(lengthBytes: Uint8Array, payload: Uint8Array): number {
  return crc32(payload, crc32(lengthBytes))
}

function isZero(data: Uint8Array, from: number): boolean {
  for (let index = from; index < data.length; index++) if (data[index] !== 0) return false
  return true
}
