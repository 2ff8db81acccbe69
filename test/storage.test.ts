import assert from 'node:assert/strict'
import { appendFileSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import * as zlib from 'node:zlib'
import { isColleagueError } from '../src/index.js'
import type { Ballot, Government, LogEntry } from '../src/paxos/types.js'
import { crc32, crc32Table } from '../src/storage/crc32.js'
import { DurableStore, SEQ_RESERVE } from '../src/storage/durable-store.js'
import { decodeRecords, encodeJsonRecord } from '../src/storage/records.js'
import { soloGovernment, STORAGE_IDENTITY, temporaryDirectories } from './support/storage.js'

const directory = temporaryDirectories('paxos-storage-')

const identity = STORAGE_IDENTITY
const ballot = (round: number): Ballot => ({ round, id: 'a' })
const value = (seq: number): LogEntry => ({ type: 'value', submission: { from: 'a', seq, value: { n: seq } } })

const government = (): Government => soloGovernment({ a: { location: 'http://127.0.0.1:1' } })

function snapshotAt(position: number, state: unknown = { at: position }): Parameters<DurableStore['writeSnapshot']>[0] {
  return { position, government: government(), governmentPosition: 0, submitters: { a: [position] }, arrival: '1/0', state }
}

/** A member that bootstrapped, wrote its first snapshot, then accepted `count` entries. */
function member(dir: string, count: number, commit = count): DurableStore {
  const { store, recovered } = DurableStore.open({ directory: dir }, { islandName: 'isle' })
  assert.equal(recovered, null)
  store.begin(identity)
  store.persist({ promised: ballot(1), accepted: [{ position: 0, ballot: ballot(1), entry: { type: 'government', government: government() } }], commit: 0, seq: 0 })
  store.writeSnapshot(snapshotAt(0))
  for (let position = 1; position <= count; position++) {
    store.persist({ promised: null, accepted: [{ position, ballot: ballot(1), entry: value(position) }], commit: Math.min(position, commit), seq: position })
  }
  return store
}

function reopen(dir: string, expect: { islandName: string; colleagueId?: string } = { islandName: 'isle' }) {
  return DurableStore.open({ directory: dir }, expect)
}

function segments(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.startsWith('wal-')).sort()
}

function expectCode(action: () => unknown, code: string): void {
  assert.throws(action, (error: unknown) => isColleagueError(error) && error.code === code)
}

test('the table CRC-32 agrees with zlib\'s on random data, and with the check value', () => {
  assert.equal(crc32Table(Buffer.from('123456789')), 0xcbf43926)
  const builtIn = (zlib as { crc32?: (data: Uint8Array, initial?: number) => number }).crc32
  for (let round = 0; round < 50; round++) {
    const data = randomBytes(round * 37)
    assert.equal(crc32(data), crc32Table(data))
    if (builtIn !== undefined) assert.equal(builtIn(data), crc32Table(data))
    const half = data.length >> 1
    assert.equal(crc32Table(data.subarray(half), crc32Table(data.subarray(0, half))), crc32Table(data))
  }
})

test('records decode back; a torn tail is cut only where the file may tear', () => {
  const one = encodeJsonRecord({ kind: 'x', n: 1 })
  const two = encodeJsonRecord({ kind: 'x', n: 2 })
  const whole = Buffer.concat([one, two])
  const decoded = decodeRecords(whole, false)
  assert.ok(decoded.ok)
  assert.equal(decoded.payloads.length, 2)
  for (let cut = one.length + 1; cut < whole.length; cut++) {
    const torn = decodeRecords(whole.subarray(0, cut), true)
    assert.ok(torn.ok, `cut at ${cut}`)
    assert.equal(torn.payloads.length, 1)
    assert.equal(torn.validBytes, one.length)
    assert.equal(torn.tornBytes, cut - one.length)
    assert.equal(decodeRecords(whole.subarray(0, cut), false).ok, false, 'an older file may not tear')
  }
  // A zero-filled tail (blocks allocated, never written) is torn too.
  const zeros = decodeRecords(Buffer.concat([one, Buffer.alloc(40)]), true)
  assert.ok(zeros.ok && zeros.payloads.length === 1 && zeros.tornBytes === 40)
})

test('a damaged byte anywhere but the last record is corruption, even in the newest file', () => {
  const records = [1, 2, 3].map((n) => encodeJsonRecord({ n }))
  const whole = Buffer.concat(records)
  const lastStart = whole.length - (records[2] as Uint8Array).length
  for (let index = 0; index < whole.length; index++) {
    const damaged = Buffer.from(whole)
    damaged[index] = (damaged[index] as number) ^ 0x40
    const decoded = decodeRecords(damaged, true)
    if (index < lastStart) assert.equal(decoded.ok, false, `damage at byte ${index} must be refused`)
    else assert.ok(!decoded.ok || decoded.payloads.length === 2, `damage at ${index} in the last record: refused or cut`)
  }
})

test('an empty directory holds no member; a member comes back with promise, accepted entries, commit and seqs', () => {
  const dir = directory()
  const store = member(dir, 5, 3)
  store.persist({ promised: ballot(4), accepted: [{ position: 5, ballot: ballot(4), entry: value(50) }], commit: 3, seq: 5 })
  store.close()
  const { recovered, report } = reopen(dir)
  assert.ok(recovered !== null)
  assert.equal(report.tornBytes, 0)
  assert.deepEqual(recovered.snapshot.identity, identity)
  assert.equal(recovered.snapshot.position, 0)
  assert.deepEqual(recovered.snapshot.state, { at: 0 })
  assert.deepEqual(recovered.promised, ballot(4))
  assert.equal(recovered.commit, 3)
  assert.deepEqual(recovered.accepted.map((item) => item.position), [1, 2, 3, 4, 5])
  // The last record of a position wins.
  assert.deepEqual(recovered.accepted[4], { position: 5, ballot: ballot(4), entry: value(50) })
  assert.ok(recovered.seq >= 5, 'a restart continues above every seq that may have been sent')
})

test('one write and one sync per flush; a commit point alone is not synced', () => {
  const dir = directory()
  const store = member(dir, 0)
  const before = store.statistics
  const synced = store.persist({
    promised: ballot(2),
    accepted: [1, 2, 3, 4].map((position) => ({ position, ballot: ballot(2), entry: value(position) })),
    commit: 0,
    seq: 4,
  })
  assert.equal(synced, true)
  assert.equal(store.statistics.flushes - before.flushes, 1)
  assert.equal(store.statistics.syncs - before.syncs, 1)
  assert.equal(store.persist({ promised: null, accepted: [], commit: 4, seq: 4 }), false)
  assert.equal(store.statistics.syncs - before.syncs, 1)
  assert.equal(store.persist({ promised: null, accepted: [], commit: 4, seq: 4 }), false, 'nothing new: nothing written')
  assert.equal(store.statistics.flushes - before.flushes, 2)
  assert.equal(store.persist({ promised: null, accepted: [], commit: 4, seq: 4 + SEQ_RESERVE + 1 }), true, 'past the reserved seqs: a new reservation, synced')
  store.close()
})

test('a commit point that chooses a government is synced before the flush\'s messages leave', () => {
  const dir = directory()
  const store = member(dir, 4, 0)
  const before = store.statistics
  assert.equal(store.persist({ promised: null, accepted: [], commit: 2, seq: 4 }), false, 'values alone: written, not synced')
  assert.equal(store.persist({ promised: null, accepted: [], commit: 3, seq: 4, syncCommit: true }), true, 'a government among them: synced')
  assert.equal(store.statistics.syncs - before.syncs, 1)
  assert.equal(store.persist({ promised: null, accepted: [], commit: 3, seq: 4, syncCommit: true }), false, 'nothing new: nothing written')
  store.close()
})

test('a log cut mid-record is cut back to the last whole record, and the member resumes', () => {
  const dir = directory()
  member(dir, 20).close()
  const newest = join(dir, segments(dir).at(-1) as string)
  const size = statSync(newest).size
  truncateSync(newest, size - 7)
  const { store, recovered, report } = reopen(dir)
  assert.ok(recovered !== null)
  assert.ok(report.tornBytes > 0)
  assert.equal(recovered.accepted.at(-1)?.position, 19, 'the torn flush is gone, everything before it is kept')
  assert.equal(recovered.commit, 19)
  store.persist({ promised: null, accepted: [{ position: 20, ballot: ballot(1), entry: value(20) }], commit: 20, seq: 20 })
  store.close()
  // The cut file is now an older segment: it must read whole, so the cut must have been made on disk.
  const again = reopen(dir)
  assert.equal(again.recovered?.accepted.at(-1)?.position, 20)
  assert.equal(again.report.tornBytes, 0)
  again.store.close()
})

test('garbage appended after a crash (a torn write) is cut; a flipped byte earlier is STORAGE_CORRUPT', () => {
  const dir = directory()
  member(dir, 10).close()
  const newest = join(dir, segments(dir).at(-1) as string)
  const pristine = readFileSync(newest)
  appendFileSync(newest, Buffer.from([0x30, 0, 0, 0, 0xcf, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5]))
  const torn = reopen(dir)
  assert.equal(torn.recovered?.accepted.at(-1)?.position, 10)
  torn.store.close()

  writeFileSync(newest, pristine)
  const damaged = Buffer.from(pristine)
  const middle = Math.floor(pristine.length / 2)
  damaged[middle] = (damaged[middle] as number) ^ 0x01
  writeFileSync(newest, damaged)
  expectCode(() => reopen(dir), 'STORAGE_CORRUPT')
  // Refused, and nothing changed: the damaged file is still there as it was.
  assert.deepEqual(readFileSync(newest), damaged)
})

test('a damaged snapshot or a damaged older segment is STORAGE_CORRUPT, even at its very end', () => {
  const dir = directory()
  const store = member(dir, 5)
  store.persist({ promised: null, accepted: [{ position: 6, ballot: ballot(1), entry: value(6) }], commit: 5, seq: 6 })
  // The segment holding position 6 outlives the snapshot at 5: it becomes an older segment.
  store.writeSnapshot(snapshotAt(5, { big: 'x'.repeat(1000) }))
  store.persist({ promised: null, accepted: [{ position: 7, ballot: ballot(1), entry: value(7) }], commit: 7, seq: 7 })
  store.close()
  const snapshot = join(dir, readdirSync(dir).find((name) => name.endsWith('.snap')) as string)
  const pristine = readFileSync(snapshot)
  truncateSync(snapshot, pristine.length - 1)
  expectCode(() => reopen(dir), 'STORAGE_CORRUPT')
  writeFileSync(snapshot, pristine)
  const whole = reopen(dir)
  assert.deepEqual(whole.recovered?.accepted.map((item) => item.position), [6, 7])
  whole.store.close()

  const all = segments(dir)
  assert.equal(all.length, 2)
  const older = join(dir, all[0] as string)
  truncateSync(older, statSync(older).size - 3)
  expectCode(() => reopen(dir), 'STORAGE_CORRUPT')
})

test('a restart appends to the newest segment rather than starting another', () => {
  const dir = directory()
  member(dir, 3).close()
  const before = segments(dir)
  for (let round = 0; round < 3; round++) {
    const { store } = reopen(dir)
    store.persist({ promised: null, accepted: [{ position: 4 + round, ballot: ballot(1), entry: value(4 + round) }], commit: 4 + round, seq: 4 + round })
    store.close()
  }
  assert.deepEqual(segments(dir), before)
  assert.deepEqual(reopen(dir).recovered?.accepted.map((item) => item.position), [1, 2, 3, 4, 5, 6])
})

test('a directory of another island or another colleague is STORAGE_MISMATCH; so is a segment of another member', () => {
  const dir = directory()
  member(dir, 3).close()
  expectCode(() => reopen(dir, { islandName: 'elsewhere' }), 'STORAGE_MISMATCH')
  expectCode(() => reopen(dir, { islandName: 'isle', colleagueId: 'b' }), 'STORAGE_MISMATCH')
  reopen(dir, { islandName: 'isle', colleagueId: 'a' }).store.close()

  const other = directory()
  const { store } = DurableStore.open({ directory: other }, { islandName: 'isle' })
  store.begin({ ...identity, colleagueId: 'b' })
  store.persist({ promised: ballot(9), accepted: [], commit: -1, seq: 0 })
  store.close()
  for (const name of segments(other)) writeFileSync(join(dir, `wal-9${name.slice(5)}`), readFileSync(join(other, name)))
  expectCode(() => reopen(dir), 'STORAGE_MISMATCH')
})

test('a snapshot deletes the log it covers and the previous snapshot; what follows it survives', () => {
  const dir = directory()
  const store = member(dir, 100)
  const before = segments(dir).length
  store.writeSnapshot(snapshotAt(100, { at: 100 }))
  store.persist({ promised: null, accepted: [{ position: 101, ballot: ballot(1), entry: value(101) }], commit: 101, seq: 101 })
  store.writeSnapshot(snapshotAt(101, { at: 101 }))
  store.persist({ promised: null, accepted: [{ position: 102, ballot: ballot(1), entry: value(102) }], commit: 101, seq: 102 })
  store.close()
  const names = readdirSync(dir)
  assert.deepEqual(names.filter((name) => name.endsWith('.snap')), ['snapshot-0000000000000101.snap'])
  assert.ok(segments(dir).length <= before + 1, `segments: ${segments(dir).join(', ')}`)
  const { recovered } = reopen(dir)
  assert.equal(recovered?.snapshot.position, 101)
  assert.deepEqual(recovered?.snapshot.state, { at: 101 })
  assert.deepEqual(recovered?.accepted.map((item) => item.position), [102])
  assert.equal(recovered?.commit, 101)
  assert.deepEqual(recovered?.promised, ballot(1))
})

test('with retainEntries, a snapshot keeps the log of that many entries below it; a restart reads them back as an unbroken run ending at it', () => {
  const dir = directory()
  const options = { directory: dir, retainEntries: 10, segmentBytesMax: 300 }
  const { store } = DurableStore.open(options, { islandName: 'isle' })
  store.begin(identity)
  store.persist({ promised: ballot(1), accepted: [{ position: 0, ballot: ballot(1), entry: { type: 'government', government: government() } }], commit: 0, seq: 0 })
  store.writeSnapshot(snapshotAt(0))
  for (let position = 1; position <= 30; position++) {
    store.persist({ promised: null, accepted: [{ position, ballot: ballot(1), entry: value(position) }], commit: Math.max(0, position - 2), seq: position })
  }
  // 19 accepted again under a later ballot, before it was chosen: its last record is what the log held.
  store.persist({ promised: ballot(2), accepted: [{ position: 19, ballot: ballot(2), entry: value(190) }], commit: 28, seq: 30 })
  const before = segments(dir).length
  store.writeSnapshot(snapshotAt(25))
  store.close()
  const kept = segments(dir).length
  assert.ok(kept < before, `the segments holding only 15 and below went: ${before} then ${kept}`)
  const { recovered } = DurableStore.open(options, { islandName: 'isle' })
  assert.equal(recovered?.snapshot.position, 25)
  assert.deepEqual(recovered?.retained.map((item) => item.position), [16, 17, 18, 19, 20, 21, 22, 23, 24, 25])
  assert.deepEqual(recovered?.retained.find((item) => item.position === 19)?.entry, value(190))
  assert.deepEqual(recovered?.accepted.map((item) => item.position), [26, 27, 28, 29, 30])
  // Without retention nothing below the snapshot comes back, and a restart with it finds none kept.
  const plain = directory()
  const { store: alone } = DurableStore.open({ directory: plain, segmentBytesMax: 300 }, { islandName: 'isle' })
  alone.begin(identity)
  alone.persist({ promised: ballot(1), accepted: [{ position: 0, ballot: ballot(1), entry: { type: 'government', government: government() } }], commit: 0, seq: 0 })
  alone.writeSnapshot(snapshotAt(0))
  for (let position = 1; position <= 30; position++) {
    alone.persist({ promised: null, accepted: [{ position, ballot: ballot(1), entry: value(position) }], commit: position, seq: position })
  }
  alone.writeSnapshot(snapshotAt(25))
  alone.close()
  const without = DurableStore.open({ directory: plain }, { islandName: 'isle' })
  assert.deepEqual(without.recovered?.retained, [])
  without.store.close()
  // Opened with it, only what the last segments still hold: an unbroken run ending at 25, shorter than asked.
  const left = DurableStore.open({ directory: plain, retainEntries: 10 }, { islandName: 'isle' }).recovered?.retained.map((item) => item.position) ?? []
  assert.ok(left.length < 10 && left.every((position, index) => position === 25 - left.length + 1 + index), `retained ${left.join(', ')}`)
})

test('retained entries stop at a position the log never held: only the run after it up to the snapshot comes back', () => {
  const dir = directory()
  const options = { directory: dir, retainEntries: 20 }
  const { store } = DurableStore.open(options, { islandName: 'isle' })
  store.begin(identity)
  store.persist({ promised: ballot(1), accepted: [{ position: 0, ballot: ballot(1), entry: { type: 'government', government: government() } }], commit: 0, seq: 0 })
  store.writeSnapshot(snapshotAt(0))
  for (const position of [5, 6, 7, 9, 10, 11, 12]) {
    store.persist({ promised: null, accepted: [{ position, ballot: ballot(1), entry: value(position) }], commit: position, seq: position })
  }
  store.writeSnapshot(snapshotAt(12))
  store.close()
  assert.deepEqual(DurableStore.open(options, { islandName: 'isle' }).recovered?.retained.map((item) => item.position), [9, 10, 11, 12])
})

test('a snapshot interrupted before its rename is ignored; a member that never wrote one holds nothing', () => {
  const dir = directory()
  member(dir, 4).close()
  writeFileSync(join(dir, 'snapshot-0000000000000004.snap.tmp'), 'half a snapshot')
  const { recovered, store } = reopen(dir)
  assert.equal(recovered?.snapshot.position, 0)
  store.close()
  assert.ok(!readdirSync(dir).some((name) => name.endsWith('.tmp')))

  const joining = directory()
  const opened = DurableStore.open({ directory: joining }, { islandName: 'isle' })
  opened.store.begin(identity)
  opened.store.persist({ promised: null, accepted: [{ position: 7, ballot: ballot(1), entry: value(7) }], commit: 7, seq: 0 })
  opened.store.close()
  const again = reopen(joining)
  assert.equal(again.recovered, null)
  assert.ok(again.report.orphanSegments >= 1)
  assert.deepEqual(segments(joining), [])
})
