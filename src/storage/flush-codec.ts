// The payload of a log record written by one flush, in a binary form that a
// restart reads back without parsing JSON: a member replays every entry after
// its snapshot (a million of them is ordinary), and each value's text is then
// read as one string, not unescaped out of a JSON string inside JSON.
//
//   u8 FLUSH_BINARY | u8 flags (1 promised, 2 commit, 4 seq, 8 accepted)
//   [ballot promised] [f64 commit] [f64 seq] [u32 count, entry x count]
//   entry:  f64 position | u8 tag | [ballot] | body
//     tag bit 0: a ballot follows (else the previous entry's)
//     tag bit 1: a submitter id follows (value entries; else the previous one's)
//     tag bits 4-7: 1 a value whose text is a string: [string from] f64 seq, string text
//                   2 a noop
//                   3 any other entry, as its JSON text (governments, values of other shapes)
//   ballot: f64 round | string id        string: u32 byte length | UTF-8
//
// A flush whose promise or ballots have any other shape is written as JSON
// (payload `{...}`), as every flush was before this form; both are read.
// Only objects of exactly the shape above take the binary form, so that what
// a restart reads back is the same JSON as what was written.

import type { Accepted, Ballot, LogEntry } from '../paxos/types.js'
import { encodeRecord, frameRecord, RECORD_HEADER_BYTES } from './records.js'

/** First payload byte of a binary flush (a JSON payload begins with `{`). */
export const FLUSH_BINARY = 0x01

const HAS_PROMISED = 1
const HAS_COMMIT = 2
const HAS_SEQ = 4
const HAS_ACCEPTED = 8
const NEW_BALLOT = 1
const NEW_FROM = 2
const KIND_VALUE = 0x10
const KIND_NOOP = 0x20
const KIND_JSON = 0x30

/** What one flush record says; each field is absent when the flush did not change it. */
export interface FlushContents {
  readonly promised?: Ballot
  readonly accepted?: readonly Accepted[]
  readonly commit?: number
  readonly seq?: number
}

/** How one accepted entry is written. */
type EntryPlan =
  | { readonly kind: typeof KIND_VALUE; readonly from: string; readonly seq: number; readonly text: string }
  | { readonly kind: typeof KIND_NOOP }
  | { readonly kind: typeof KIND_JSON; readonly text: string }

/** The framed record of a flush: binary when its shapes allow, else JSON. */
export function encodeFlushRecord(flush: FlushContents): Uint8Array {
  const accepted = flush.accepted ?? []
  if ((flush.promised !== undefined && !isPlainBallot(flush.promised)) || !accepted.every((item) => isPlainBallot(item.ballot))) {
    return encodeRecord(Buffer.from(JSON.stringify(jsonFlush(flush)), 'utf8'))
  }
  const plans = accepted.map((item) => planOf(item.entry))
  const writer = new Writer(RECORD_HEADER_BYTES + sizeOf(flush, plans))
  writer.skip(RECORD_HEADER_BYTES)
  writer.u8(FLUSH_BINARY)
  const flags =
    (flush.promised !== undefined ? HAS_PROMISED : 0) |
    (flush.commit !== undefined ? HAS_COMMIT : 0) |
    (flush.seq !== undefined ? HAS_SEQ : 0) |
    (flush.accepted !== undefined ? HAS_ACCEPTED : 0)
  writer.u8(flags)
  if (flush.promised !== undefined) writer.ballot(flush.promised)
  if (flush.commit !== undefined) writer.f64(flush.commit)
  if (flush.seq !== undefined) writer.f64(flush.seq)
  if (flush.accepted !== undefined) {
    writer.u32(accepted.length)
    let ballot: Ballot | null = null
    let from: string | null = null
    for (const [index, item] of accepted.entries()) {
      const plan = plans[index] as EntryPlan
      const newBallot = ballot === null || !sameBallot(item.ballot, ballot)
      ballot = item.ballot
      const newFrom = plan.kind === KIND_VALUE && plan.from !== from
      if (plan.kind === KIND_VALUE) from = plan.from
      writer.f64(item.position)
      writer.u8(plan.kind | (newBallot ? NEW_BALLOT : 0) | (newFrom ? NEW_FROM : 0))
      if (newBallot) writer.ballot(item.ballot)
      if (plan.kind === KIND_VALUE) {
        if (newFrom) writer.string(plan.from)
        writer.f64(plan.seq)
        writer.string(plan.text)
      } else if (plan.kind === KIND_JSON) {
        writer.string(plan.text)
      }
    }
  }
  return writer.frame()
}

/** Exactly the size `encodeFlushRecord` writes, header excluded. */
function sizeOf(flush: FlushContents, plans: readonly EntryPlan[]): number {
  let size = 2
  if (flush.promised !== undefined) size += ballotSize(flush.promised)
  if (flush.commit !== undefined) size += 8
  if (flush.seq !== undefined) size += 8
  if (flush.accepted !== undefined) {
    size += 4
    let ballot: Ballot | null = null
    let from: string | null = null
    for (const [index, item] of flush.accepted.entries()) {
      const plan = plans[index] as EntryPlan
      size += 8 + 1
      if (ballot === null || !sameBallot(item.ballot, ballot)) size += ballotSize(item.ballot)
      ballot = item.ballot
      if (plan.kind === KIND_VALUE) {
        if (plan.from !== from) size += stringSize(plan.from)
        from = plan.from
        size += 8 + stringSize(plan.text)
      } else if (plan.kind === KIND_JSON) {
        size += stringSize(plan.text)
      }
    }
  }
  return size
}

/** Reads a binary flush payload; null when the payload is not one (a JSON record). Throws `FlushFormatError` on a malformed one. */
export function decodeFlushPayload(payload: Uint8Array): FlushContents | null {
  if (payload[0] !== FLUSH_BINARY) return null
  const reader = new Reader(payload)
  reader.u8()
  const flags = reader.u8()
  const promised = flags & HAS_PROMISED ? reader.ballot() : undefined
  const commit = flags & HAS_COMMIT ? reader.f64() : undefined
  const seq = flags & HAS_SEQ ? reader.f64() : undefined
  let accepted: Accepted[] | undefined
  if (flags & HAS_ACCEPTED) {
    const count = reader.u32()
    accepted = []
    let ballot: Ballot | null = null
    let from: string | null = null
    for (let index = 0; index < count; index++) {
      const position = reader.f64()
      const tag = reader.u8()
      if (tag & NEW_BALLOT) ballot = reader.ballot()
      if (ballot === null) throw new FlushFormatError('an entry without a ballot')
      let entry: LogEntry
      switch (tag & 0xf0) {
        case KIND_VALUE: {
          if (tag & NEW_FROM) from = reader.string()
          if (from === null) throw new FlushFormatError('a value without a submitter')
          const seq = reader.f64()
          entry = { type: 'value', submission: { from, seq, value: reader.string() } }
          break
        }
        case KIND_NOOP:
          entry = { type: 'noop' }
          break
        case KIND_JSON:
          entry = parseEntry(reader.string())
          break
        default:
          throw new FlushFormatError(`an entry of unknown kind ${tag >> 4}`)
      }
      accepted.push({ position, ballot, entry })
    }
  }
  if (!reader.done) throw new FlushFormatError('bytes after the last entry')
  return {
    ...(promised !== undefined && { promised }),
    ...(accepted !== undefined && { accepted }),
    ...(commit !== undefined && { commit }),
    ...(seq !== undefined && { seq }),
  }
}

/** A binary flush payload that does not read back (a bug, never a torn write: its checksum passed). */
export class FlushFormatError extends Error {}

/** The JSON form of a flush (the form every flush had before the binary one). */
function jsonFlush(flush: FlushContents): object {
  return {
    kind: 'flush',
    ...(flush.promised !== undefined && { promised: flush.promised }),
    ...(flush.accepted !== undefined && { accepted: flush.accepted.map((item) => [item.position, item.ballot, item.entry]) }),
    ...(flush.commit !== undefined && { commit: flush.commit }),
    ...(flush.seq !== undefined && { seq: flush.seq }),
  }
}

function parseEntry(text: string): LogEntry {
  let entry: unknown
  try {
    entry = JSON.parse(text)
  } catch {
    throw new FlushFormatError('an entry that is not JSON')
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new FlushFormatError('an entry that is not an object')
  return entry as LogEntry
}

/** Exactly `{ round, id }`, a safe integer and a string: it reads back as the same JSON. */
function isPlainBallot(ballot: Ballot): boolean {
  return Number.isSafeInteger(ballot.round) && typeof ballot.id === 'string' && keyCount(ballot) === 2
}

/**
 * A value of exactly `{ type: 'value', submission: { from, seq, value } }`,
 * text and a safe integer seq, is written field by field; a noop `{ type:
 * 'noop' }` as its kind; anything else as its JSON text.
 */
function planOf(entry: LogEntry): EntryPlan {
  if (entry.type === 'value' && keyCount(entry) === 2) {
    const submission = entry.submission
    if (typeof submission === 'object' && submission !== null) {
      const { from, seq, value } = submission
      if (typeof from === 'string' && typeof value === 'string' && Number.isSafeInteger(seq) && keyCount(submission) === 3) {
        return { kind: KIND_VALUE, from, seq, text: value }
      }
    }
  }
  if (entry.type === 'noop' && keyCount(entry) === 1) return { kind: KIND_NOOP }
  return { kind: KIND_JSON, text: JSON.stringify(entry) }
}

function sameBallot(a: Ballot, b: Ballot): boolean {
  return a === b || (a.round === b.round && a.id === b.id)
}

function keyCount(object: object): number {
  let count = 0
  for (const key in object) if (Object.hasOwn(object, key)) count++
  return count
}

function ballotSize(ballot: Ballot): number {
  return 8 + stringSize(ballot.id)
}

function stringSize(text: string): number {
  return 4 + Buffer.byteLength(text, 'utf8')
}

class Writer {
  readonly #bytes: Buffer
  readonly #view: DataView
  #at = 0

  constructor(capacity: number) {
    this.#bytes = Buffer.allocUnsafeSlow(capacity)
    this.#view = new DataView(this.#bytes.buffer, this.#bytes.byteOffset, this.#bytes.byteLength)
  }

  skip(count: number): void {
    this.#at += count
  }

  u8(value: number): void {
    this.#view.setUint8(this.#at, value)
    this.#at += 1
  }

  u32(value: number): void {
    this.#view.setUint32(this.#at, value, true)
    this.#at += 4
  }

  f64(value: number): void {
    this.#view.setFloat64(this.#at, value, true)
    this.#at += 8
  }

  string(text: string): void {
    const written = this.#bytes.write(text, this.#at + 4, 'utf8')
    this.u32(written)
    this.#at += written
  }

  ballot(ballot: Ballot): void {
    this.f64(ballot.round)
    this.string(ballot.id)
  }

  /** The record: the header written in front of the payload, in the same bytes. */
  frame(): Uint8Array {
    const record = this.#bytes.subarray(0, this.#at)
    frameRecord(record)
    return record
  }
}

class Reader {
  readonly #bytes: Buffer
  readonly #view: DataView
  #at = 0

  constructor(payload: Uint8Array) {
    this.#bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
    this.#view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength)
  }

  get done(): boolean {
    return this.#at === this.#bytes.length
  }

  #take(count: number): number {
    const at = this.#at
    if (count > this.#bytes.length - at) throw new FlushFormatError('a flush record cut short inside')
    this.#at = at + count
    return at
  }

  u8(): number {
    return this.#view.getUint8(this.#take(1))
  }

  u32(): number {
    return this.#view.getUint32(this.#take(4), true)
  }

  f64(): number {
    return this.#view.getFloat64(this.#take(8), true)
  }

  string(): string {
    const length = this.u32()
    const at = this.#take(length)
    return this.#bytes.toString('utf8', at, at + length)
  }

  ballot(): Ballot {
    const round = this.f64()
    return { round, id: this.string() }
  }
}
