// The bytes of durable storage: a file scanned through a small reused buffer
// reads exactly as the same bytes decoded whole (every cut, every damaged
// byte); flush records in their binary form read back as the JSON that was
// written, whatever the entries hold; logs written in the JSON form still
// read; a binary record that does not read back is STORAGE_CORRUPT.

import assert from 'node:assert/strict'
import { appendFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { isColleagueError } from '../src/index.js'
import type { Accepted, Ballot, Government, LogEntry } from '../src/paxos/types.js'
import { DurableStore } from '../src/storage/durable-store.js'
import { decodeFlushPayload, encodeFlushRecord, FLUSH_BINARY, type FlushContents } from '../src/storage/flush-codec.js'
import { decodeRecords, encodeJsonRecord, encodeRecord, RECORD_HEADER_BYTES, scanRecords, type ScanResult } from '../src/storage/records.js'
import { createRandom, type Random } from '../src/testing/prng.js'
import { soloGovernment, STORAGE_IDENTITY, temporaryDirectories } from './support/storage.js'

const directory = temporaryDirectories('paxos-storage-format-')

const identity = STORAGE_IDENTITY
const ballot = (round: number, id = 'a'): Ballot => ({ round, id })
const text = (seq: number, from = 'a'): LogEntry => ({ type: 'value', submission: { from, seq, value: JSON.stringify({ put: `k${seq}`, v: 'x'.repeat(seq % 40) }) } })

const government = (): Government => soloGovernment({ a: { location: 'http://127.0.0.1:1' } })

/** Scans `data` through a buffer of `bufferBytes`, each read returning a random number of bytes (at least one). */
function scanInPieces(data: Uint8Array, tailMayTear: boolean, bufferBytes: number, random: Random) {
  const payloads: Uint8Array[] = []
  const read = (into: Uint8Array, position: number): number => {
    const available = Math.min(into.length, data.length - position)
    if (available <= 0) return 0
    const count = 1 + random.int(available)
    into.set(data.subarray(position, position + count))
    return count
  }
  const result = scanRecords({ read, buffer: { bytes: new Uint8Array(bufferBytes) } }, tailMayTear, (payload) => payloads.push(payload.slice()))
  return { result, payloads }
}

function sameScan(whole: ReturnType<typeof decodeRecords>, pieces: { result: ScanResult; payloads: Uint8Array[] }, what: string): void {
  assert.equal(pieces.result.ok, whole.ok, what)
  if (!whole.ok || !pieces.result.ok) {
    if (!whole.ok && !pieces.result.ok) assert.equal(pieces.result.offset, whole.offset, what)
    return
  }
  assert.equal(pieces.result.validBytes, whole.validBytes, what)
  assert.equal(pieces.result.tornBytes, whole.tornBytes, what)
  assert.equal(pieces.result.records, whole.payloads.length, what)
  assert.deepEqual(pieces.payloads.map((payload) => Buffer.from(payload).toString('hex')), whole.payloads.map((payload) => Buffer.from(payload).toString('hex')), what)
}

test('a file scanned through a small buffer in random pieces reads as the same bytes decoded whole: every cut, every damaged byte', () => {
  const seed = 20261130
  const random = createRandom(seed)
  // Records shorter and longer than the buffer (which must grow for them).
  const records = [3, 40, 1, 100, 17, 64].map((size, index) => encodeRecord(Buffer.alloc(size, index + 1)))
  const whole = Buffer.concat(records)
  for (const bufferBytes of [16, 33, 128]) {
    for (const tailMayTear of [true, false]) {
      for (let cut = 0; cut <= whole.length; cut++) {
        const data = whole.subarray(0, cut)
        sameScan(decodeRecords(data, tailMayTear), scanInPieces(data, tailMayTear, bufferBytes, random), `seed ${seed}, buffer ${bufferBytes}, cut ${cut}`)
      }
      for (let index = 0; index < whole.length; index++) {
        const damaged = Buffer.from(whole)
        damaged[index] = (damaged[index] as number) ^ 0x10
        sameScan(decodeRecords(damaged, tailMayTear), scanInPieces(damaged, tailMayTear, bufferBytes, random), `seed ${seed}, buffer ${bufferBytes}, damage at ${index}`)
      }
      const zeros = Buffer.concat([whole, Buffer.alloc(70)])
      sameScan(decodeRecords(zeros, tailMayTear), scanInPieces(zeros, tailMayTear, bufferBytes, random), `seed ${seed}, a zero-filled tail`)
      const notZeros = Buffer.concat([whole, Buffer.alloc(70), Buffer.from([1])])
      sameScan(decodeRecords(notZeros, tailMayTear), scanInPieces(notZeros, tailMayTear, bufferBytes, random), `seed ${seed}, zeros then a byte`)
    }
  }
})

/** The JSON of a flush, as a reader compares it: what was written must come back. */
function jsonOf(flush: FlushContents): unknown {
  return JSON.parse(JSON.stringify(flush)) as unknown
}

function roundTrip(flush: FlushContents): FlushContents {
  const record = encodeFlushRecord(flush)
  const decoded = decodeRecords(record, false)
  assert.ok(decoded.ok && decoded.payloads.length === 1)
  const payload = decoded.payloads[0] as Uint8Array
  const binary = decodeFlushPayload(payload)
  if (binary !== null) return binary
  // The JSON form: `{ kind: 'flush', accepted: [[position, ballot, entry]] }`.
  const json = JSON.parse(Buffer.from(payload).toString('utf8')) as { accepted?: [number, Ballot, LogEntry][] } & FlushContents
  const { accepted, promised, commit, seq } = json
  return {
    ...(promised !== undefined && { promised }),
    ...(accepted !== undefined && { accepted: accepted.map(([position, ballot, entry]) => ({ position, ballot, entry })) }),
    ...(commit !== undefined && { commit }),
    ...(seq !== undefined && { seq }),
  }
}

test('flush records: binary for the usual shapes, and every flush reads back as the JSON that was written', () => {
  const seed = 7
  const random = createRandom(seed)
  const odd: LogEntry[] = [
    { type: 'noop' },
    { type: 'government', government: government() },
    // A value that is not text, and shapes with more than the usual keys: written as their JSON.
    { type: 'value', submission: { from: 'b', seq: 3, value: { n: 3 } } },
    { type: 'value', submission: { from: 'b', seq: 4, value: 'x', extra: true } as never },
    { type: 'value', submission: { from: 'b', seq: 5, value: '"x"' }, note: 1 } as never,
    { type: 'noop', why: 'x' } as never,
    { type: 'value', submission: { from: 'ü', seq: 6, value: '"héllo ✓ 𝄞"' } },
  ]
  for (let round = 0; round < 200; round++) {
    const accepted: Accepted[] = []
    let position = random.int(1000)
    for (let count = random.int(6); count > 0; count--) {
      position += 1 + random.int(3)
      const entry = random.chance(0.6) ? text(position, random.pick(['a', 'b', 'é'])) : random.pick(odd)
      accepted.push({ position, ballot: ballot(1 + random.int(2), random.pick(['a', 'b'])), entry })
    }
    const flush: FlushContents = {
      ...(random.chance(0.3) && { promised: ballot(random.int(9), random.pick(['a', 'zz'])) }),
      ...(random.chance(0.8) && { accepted }),
      ...(random.chance(0.5) && { commit: random.int(5000) - 1 }),
      ...(random.chance(0.5) && { seq: random.int(1 << 30) }),
    }
    assert.deepEqual(jsonOf(roundTrip(flush)), jsonOf(flush), `seed ${seed}, round ${round}`)
  }
  const usual = encodeFlushRecord({ accepted: [1, 2, 3].map((position) => ({ position, ballot: ballot(1), entry: text(position) })), commit: 3 })
  assert.equal(usual[RECORD_HEADER_BYTES], FLUSH_BINARY, 'values as text are written in the binary form')
  const unusual = encodeFlushRecord({ promised: { round: 1, id: 'a', more: 1 } as Ballot })
  assert.equal(String.fromCharCode(unusual[RECORD_HEADER_BYTES] as number), '{', 'a ballot of another shape: the flush is JSON')
  assert.deepEqual(jsonOf(roundTrip({ promised: { round: 1, id: 'a', more: 1 } as Ballot })), { promised: { round: 1, id: 'a', more: 1 } })
})

/** A member whose log holds its bootstrap government, a snapshot at 0, and `count` values as text. */
function member(dir: string, count: number): DurableStore {
  const { store } = DurableStore.open({ directory: dir }, { islandName: 'isle' })
  store.begin(identity)
  store.persist({ promised: ballot(1), accepted: [{ position: 0, ballot: ballot(1), entry: { type: 'government', government: government() } }], commit: 0, seq: 0 })
  store.writeSnapshot({ position: 0, government: government(), governmentPosition: 0, submitters: {}, arrival: '1/0', state: { at: 0 } })
  for (let position = 1; position <= count; position++) {
    store.persist({ promised: null, accepted: [{ position, ballot: ballot(1), entry: text(position) }], commit: position, seq: position })
  }
  return store
}

function newestSegment(dir: string): string {
  return join(dir, readdirSync(dir).filter((name) => name.startsWith('wal-')).sort().at(-1) as string)
}

test('a log written with JSON flush records (the earlier form) is read back, mixed with binary ones', () => {
  const dir = directory()
  member(dir, 3).close()
  const json = (position: number) => encodeJsonRecord({ kind: 'flush', accepted: [[position, ballot(2), text(position)]], commit: position, seq: position })
  appendFileSync(newestSegment(dir), Buffer.concat([json(4), json(5)]))
  const { store, recovered, report } = DurableStore.open({ directory: dir }, { islandName: 'isle' })
  assert.equal(report.tornBytes, 0)
  assert.deepEqual(
    recovered?.accepted.map((item) => [item.position, item.ballot.round, item.entry]),
    [1, 2, 3, 4, 5].map((position) => [position, position > 3 ? 2 : 1, text(position)]),
  )
  assert.equal(recovered?.commit, 5)
  store.persist({ promised: null, accepted: [{ position: 6, ballot: ballot(2), entry: text(6) }], commit: 6, seq: 6 })
  store.close()
  const again = DurableStore.open({ directory: dir }, { islandName: 'isle' })
  assert.deepEqual(again.recovered?.accepted.map((item) => item.position), [1, 2, 3, 4, 5, 6])
  again.store.close()
})

test('a binary flush record that does not read back is STORAGE_CORRUPT, even as the last record', () => {
  for (const bytes of [[FLUSH_BINARY, 8, 5, 0, 0, 0], [FLUSH_BINARY, 8, 1, 0, 0, 0, ...new Array(8).fill(0), 0x70], [FLUSH_BINARY, 0, 9]]) {
    const dir = directory()
    member(dir, 2).close()
    appendFileSync(newestSegment(dir), encodeRecord(Uint8Array.from(bytes)))
    assert.throws(
      () => DurableStore.open({ directory: dir }, { islandName: 'isle' }),
      (error: unknown) => isColleagueError(error) && error.code === 'STORAGE_CORRUPT',
      `payload ${bytes.join(',')}`,
    )
  }
})

test('a log larger than the scan buffer, with a snapshot larger than it, reads back whole', () => {
  const dir = directory()
  const { store } = DurableStore.open({ directory: dir }, { islandName: 'isle' })
  store.begin(identity)
  store.persist({ promised: ballot(1), accepted: [{ position: 0, ballot: ballot(1), entry: { type: 'government', government: government() } }], commit: 0, seq: 0 })
  const big = 'y'.repeat(9 * 1024 * 1024)
  store.writeSnapshot({ position: 0, government: government(), governmentPosition: 0, submitters: {}, arrival: '1/0', state: { big } })
  const value = JSON.stringify('z'.repeat(4000))
  for (let from = 1; from <= 3000; from += 100) {
    const accepted: Accepted[] = []
    for (let position = from; position < from + 100; position++) accepted.push({ position, ballot: ballot(1), entry: { type: 'value', submission: { from: 'a', seq: position, value } } })
    store.persist({ promised: null, accepted, commit: from + 99, seq: from + 99 })
  }
  store.close()
  const { store: reopened, recovered } = DurableStore.open({ directory: dir }, { islandName: 'isle' })
  assert.equal((recovered?.snapshot.state as { big: string }).big, big)
  assert.equal(recovered?.accepted.length, 3000)
  assert.ok(recovered?.accepted.every((item, index) => item.position === index + 1 && item.entry.type === 'value' && item.entry.submission.value === value))
  reopened.close()
})

test('entries come back in position order, the last record of a position winning, however the log ordered them', () => {
  const dir = directory()
  const store = member(dir, 5)
  const at = (position: number, round: number): Accepted => ({ position, ballot: ballot(round), entry: text(position * 10 + round) })
  // Accepted again under a later ballot, and a gap filled after a later position.
  store.persist({ promised: ballot(2), accepted: [at(3, 2), at(7, 2)], commit: 5, seq: 7 })
  store.persist({ promised: null, accepted: [at(6, 2), at(5, 2)], commit: 5, seq: 7 })
  store.persist({ promised: null, accepted: [at(8, 2), at(3, 3)], commit: 5, seq: 8 })
  store.close()
  const { store: reopened, recovered } = DurableStore.open({ directory: dir }, { islandName: 'isle' })
  assert.deepEqual(
    recovered?.accepted.map((item) => [item.position, item.ballot.round, item.entry]),
    [[1, 1, text(1)], [2, 1, text(2)], [3, 3, text(33)], [4, 1, text(4)], [5, 2, text(52)], [6, 2, text(62)], [7, 2, text(72)], [8, 2, text(82)]],
  )
  reopened.close()
})
