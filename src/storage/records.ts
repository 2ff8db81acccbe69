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
//
// A file is scanned through one buffer that is refilled with large reads and
// reused from file to file: a restart reads hundreds of megabytes, and fresh
// memory for each file costs more than reading it.

import { crc32 } from './crc32.js'

export const RECORD_HEADER_BYTES = 12
/** Largest payload a record may declare (a snapshot of the application is one record). */
export const RECORD_PAYLOAD_BYTES_MAX = 1 << 30
/** Bytes read at a time when a file is scanned (a record larger than this gets a buffer of its own size). */
export const SCAN_CHUNK_BYTES = 8 * 1024 * 1024

export function encodeRecord(payload: Uint8Array): Uint8Array {
  const record = new Uint8Array(RECORD_HEADER_BYTES + payload.length)
  record.set(payload, RECORD_HEADER_BYTES)
  frameRecord(record)
  return record
}

/** Writes the header of `record`, whose payload follows its first RECORD_HEADER_BYTES bytes. */
export function frameRecord(record: Uint8Array): void {
  const length = record.length - RECORD_HEADER_BYTES
  if (length > RECORD_PAYLOAD_BYTES_MAX) throw new RangeError(`record of ${length} bytes exceeds the maximum`)
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength)
  view.setUint32(0, length, true)
  view.setUint32(4, ~length >>> 0, true)
  view.setUint32(8, checksum(record.subarray(0, 4), record.subarray(RECORD_HEADER_BYTES)), true)
}

export function encodeJsonRecord(value: unknown): Uint8Array {
  return encodeRecord(Buffer.from(JSON.stringify(value), 'utf8'))
}

export type ScanResult =
  | {
      readonly ok: true
      /** Whole, valid records. */
      readonly records: number
      /** Bytes of whole, valid records from the start of the file. */
      readonly validBytes: number
      /** Bytes after `validBytes` that were a torn tail (0 when the file ended cleanly). */
      readonly tornBytes: number
    }
  | { readonly ok: false; readonly offset: number; readonly reason: string }

export type DecodeResult =
  | {
      readonly ok: true
      readonly payloads: Uint8Array[]
      readonly validBytes: number
      readonly tornBytes: number
    }
  | { readonly ok: false; readonly offset: number; readonly reason: string }

/** Copies the file's bytes from `position` into `into`; returns how many (0 at its end). */
export type ReadAt = (into: Uint8Array, position: number) => number

/** A buffer lent to successive scans; it grows to the largest record met. */
export interface ScanBuffer {
  bytes: Uint8Array
}

export function scanBuffer(bytes = SCAN_CHUNK_BYTES): ScanBuffer {
  return { bytes: new Uint8Array(bytes) }
}

/** Where a scan reads: a file through a reused buffer, or bytes already in memory. */
export type RecordSource = { readonly read: ReadAt; readonly buffer: ScanBuffer } | { readonly whole: Uint8Array }

/**
 * Calls `visit` with each record's payload in order, then reports how the
 * file ended. A payload read through a buffer is valid only during its
 * `visit` (the buffer is refilled after it). With `tailMayTear` (the newest
 * log file), a torn last record is reported in `tornBytes`; without it, or
 * for damage before the last record, the result is a refusal naming the
 * offset, and records before it have been visited.
 */
export function scanRecords(source: RecordSource, tailMayTear: boolean, visit: (payload: Uint8Array, offset: number) => void): ScanResult {
  const window = new ScanWindow(source)
  let offset = 0
  let records = 0
  const torn = (reason: string): ScanResult =>
    tailMayTear ? { ok: true, records, validBytes: offset, tornBytes: window.endOffset() - offset } : { ok: false, offset, reason }
  for (;;) {
    if (!window.fill(1)) return { ok: true, records, validBytes: offset, tornBytes: 0 }
    if (!window.fill(RECORD_HEADER_BYTES)) return torn('a record header cut short')
    const length = window.u32(0)
    if (length === 0 && window.restIsZero()) return torn('a zero-filled tail')
    if (window.u32(4) !== ~length >>> 0 || length === 0 || length > RECORD_PAYLOAD_BYTES_MAX) {
      return { ok: false, offset, reason: 'a damaged record header' }
    }
    const recordBytes = RECORD_HEADER_BYTES + length
    if (!window.fill(recordBytes)) return torn('a record cut short')
    const header = window.slice(0, 4)
    const payload = window.slice(RECORD_HEADER_BYTES, recordBytes)
    if (window.u32(8) !== checksum(header, payload)) {
      // The last record of the file may be a torn write; any earlier one is damage.
      if (!window.fill(recordBytes + 1)) return torn('a checksum mismatch in the last record')
      return { ok: false, offset, reason: 'a checksum mismatch' }
    }
    visit(payload, offset)
    window.skip(recordBytes)
    offset += recordBytes
    records++
  }
}

/** Splits `data` into record payloads (views into `data`): `scanRecords` over bytes in memory. */
export function decodeRecords(data: Uint8Array, tailMayTear: boolean): DecodeResult {
  const payloads: Uint8Array[] = []
  const scanned = scanRecords({ whole: data }, tailMayTear, (payload) => payloads.push(payload))
  if (!scanned.ok) return scanned
  return { ok: true, payloads, validBytes: scanned.validBytes, tornBytes: scanned.tornBytes }
}

/** The bytes of a file from a scan's current record on, read as they are needed. */
class ScanWindow {
  readonly #read: ReadAt | null
  readonly #buffer: ScanBuffer | null
  #bytes: Uint8Array
  /** File offset of `#bytes[0]`. */
  #base = 0
  /** The current record starts at `#bytes[#start]`; bytes up to `#end` are read. */
  #start = 0
  #end: number
  #eof: boolean

  constructor(source: RecordSource) {
    if ('whole' in source) {
      this.#read = null
      this.#buffer = null
      this.#bytes = source.whole
      this.#end = source.whole.length
      this.#eof = true
    } else {
      this.#read = source.read
      this.#buffer = source.buffer
      this.#bytes = source.buffer.bytes
      this.#end = 0
      this.#eof = false
    }
  }

  /** Makes `count` bytes from the current record on available; false when the file ends first. */
  fill(count: number): boolean {
    while (this.#end - this.#start < count) {
      if (this.#eof) return false
      if (this.#start + count > this.#bytes.length) this.#makeRoom(count)
      const read = (this.#read as ReadAt)(this.#bytes.subarray(this.#end), this.#base + this.#end)
      if (read === 0) this.#eof = true
      else this.#end += read
    }
    return true
  }

  /** Whether everything from the current record to the end of the file is zero. */
  restIsZero(): boolean {
    for (;;) {
      for (let index = this.#start; index < this.#end; index++) if (this.#bytes[index] !== 0) return false
      if (this.#eof) return true
      // Checked: the window moves on to the next bytes of the file (the scan ends either way).
      this.#base += this.#end
      this.#start = 0
      this.#end = 0
      this.fill(1)
    }
  }

  /** File offset where the file ended (once a fill has found its end). */
  endOffset(): number {
    return this.#base + this.#end
  }

  u32(at: number): number {
    const bytes = this.#bytes
    const index = this.#start + at
    return ((bytes[index] as number) | ((bytes[index + 1] as number) << 8) | ((bytes[index + 2] as number) << 16) | ((bytes[index + 3] as number) << 24)) >>> 0
  }

  slice(from: number, to: number): Uint8Array {
    return this.#bytes.subarray(this.#start + from, this.#start + to)
  }

  skip(count: number): void {
    this.#start += count
  }

  /** Moves the current record to the front, into a larger buffer when it would not fit. */
  #makeRoom(count: number): void {
    const kept = this.#bytes.subarray(this.#start, this.#end)
    if (count > this.#bytes.length) {
      const larger = new Uint8Array(count)
      larger.set(kept)
      this.#bytes = larger
      ;(this.#buffer as ScanBuffer).bytes = larger
    } else {
      this.#bytes.copyWithin(0, this.#start, this.#end)
    }
    this.#base += this.#start
    this.#end -= this.#start
    this.#start = 0
  }
}

function checksum(lengthBytes: Uint8Array, payload: Uint8Array): number {
  return crc32(payload, crc32(lengthBytes))
}
