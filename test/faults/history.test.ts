// The history checker on hand-made histories: one clean history passes, and
// each rule bites on the smallest history that breaks it. Pure and fast, so
// it also runs under the plain `npm test`.

import { strict as assert } from 'node:assert'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  checkHistory,
  type HistoryOperation,
  type HistoryRule,
  type KvMap,
  type MemberFinal,
  type ReadOperation,
  type ScanOperation,
  type WriteOperation,
} from '../../src/testing/history.js'

function write(id: number, position: number | null, times: [number, number | null], outcome: WriteOperation['outcome'] = 'ok'): WriteOperation {
  return {
    kind: 'write',
    id,
    client: 'c0',
    key: `k${id}`,
    value: `v${id}`,
    invokedAt: times[0],
    completedAt: times[1],
    outcome,
    ...(position !== null && outcome === 'ok' && { position }),
  }
}

function map(position: number, entries: Array<[number, number]>): KvMap {
  return { position, entries: entries.map(([id, at]) => ({ key: `k${id}`, value: `v${id}`, position: at })) }
}

function members(final: KvMap, count = 3): MemberFinal[] {
  return Array.from({ length: count }, (_, index) => ({ id: `m${index}`, map: final, agreement: { government: '3/0' } }))
}

function rules(operations: HistoryOperation[], finals: MemberFinal[]): HistoryRule[] {
  return [...new Set(checkHistory(operations, finals).violations.map((violation) => violation.rule))]
}

const clean: HistoryOperation[] = [
  write(0, 3, [0, 10]),
  write(1, 5, [11, 20]),
  write(2, null, [12, null], 'unknown'),
  write(3, null, [13, 14], 'failed'),
  { kind: 'read', id: 4, client: 'c1', key: 'k0', consistent: true, invokedAt: 15, completedAt: 16, outcome: 'ok', found: { value: 'v0', position: 3 } },
  { kind: 'read', id: 5, client: 'c1', key: 'k1', consistent: true, invokedAt: 15, completedAt: 25, outcome: 'ok', found: null },
  { kind: 'scan', id: 6, client: 'c1', consistent: false, invokedAt: 21, completedAt: 22, outcome: 'ok', map: map(4, [[0, 3]]) },
]
const cleanFinal = map(7, [[0, 3], [1, 5], [2, 7]])

test('history: a clean history with an unknown write that applied passes', () => {
  const report = checkHistory(clean, members(cleanFinal))
  assert.deepEqual(report.violations, [])
  assert.equal(report.ok, true)
  assert.deepEqual(
    { ok: report.counts.ok, failed: report.counts.failed, unknown: report.counts.unknown, entries: report.counts.entries },
    { ok: 5, failed: 1, unknown: 1, entries: 3 },
  )
})

test('history: an unknown write may also never apply', () => {
  assert.deepEqual(rules(clean, members(map(5, [[0, 3], [1, 5]]))), [])
})

test('history: members that disagree', () => {
  const finals = members(cleanFinal)
  finals[2] = { id: 'm2', map: map(5, [[0, 3], [1, 5]]), agreement: { government: '3/0' } }
  assert.deepEqual(rules(clean, finals), ['agreement'])
  const otherGovernment = members(cleanFinal)
  otherGovernment[1] = { id: 'm1', map: cleanFinal, agreement: { government: '4/0' } }
  assert.deepEqual(rules(clean, otherGovernment), ['agreement'])
})

test('history: an acknowledged write lost or moved', () => {
  assert.deepEqual(rules(clean, members(map(7, [[0, 3], [2, 7]]))), ['acknowledged-lost'])
  assert.deepEqual(rules(clean, members(map(7, [[0, 3], [1, 6], [2, 7]]))), ['acknowledged-lost'])
})

test('history: a value nobody wrote, or under another key', () => {
  const forged: KvMap = { position: 9, entries: [...cleanFinal.entries, { key: 'zz', value: 'v9', position: 9 }] }
  assert.deepEqual(rules(clean, members(forged)), ['validity'])
  const swapped: KvMap = { position: 7, entries: [{ key: 'k0', value: 'v1', position: 3 }, { key: 'k1', value: 'v1', position: 5 }] }
  assert.ok(rules(clean, members(swapped)).includes('validity'))
})

test('history: two entries at one position', () => {
  assert.deepEqual(rules([write(0, 3, [0, 1]), write(1, null, [0, null], 'unknown')], members(map(3, [[0, 3], [1, 3]]))), ['duplicate'])
})

test('history: a definitely failed write that applied', () => {
  assert.deepEqual(rules(clean, members(map(8, [[0, 3], [1, 5], [2, 7], [3, 8]]))), ['failed-write-applied'])
})

test('history: real-time order between acknowledged writes', () => {
  const operations = [write(0, 5, [0, 10]), write(1, 4, [11, 20])]
  assert.deepEqual(rules(operations, members(map(5, [[0, 5], [1, 4]]))), ['real-time-order'])
  // Overlapping writes may land in either order.
  const overlapping = [write(0, 5, [0, 10]), write(1, 4, [5, 20])]
  assert.deepEqual(rules(overlapping, members(map(5, [[0, 5], [1, 4]]))), [])
})

test('history: a consistent read that misses an earlier acknowledged write', () => {
  const read: ReadOperation = { kind: 'read', id: 9, client: 'c1', key: 'k0', consistent: true, invokedAt: 11, completedAt: 12, outcome: 'ok', found: null }
  assert.deepEqual(rules([...clean, read], members(cleanFinal)), ['stale-read'])
  // The same read without a barrier may be stale.
  assert.deepEqual(rules([...clean, { ...read, consistent: false }], members(cleanFinal)), [])
})

test('history: a read of a value at a position the log never held it', () => {
  const read: ReadOperation = { kind: 'read', id: 9, client: 'c1', key: 'k0', consistent: false, invokedAt: 11, completedAt: 12, outcome: 'ok', found: { value: 'v0', position: 4 } }
  assert.deepEqual(rules([...clean, read], members(cleanFinal)), ['read-mismatch'])
  const failedSeen: ReadOperation = { ...read, key: 'k3', found: { value: 'v3', position: 8 } }
  assert.ok(rules([...clean, failedSeen], members(cleanFinal)).includes('failed-write-applied'))
})

test('history: scans must be a prefix of the log, and consistent ones recent', () => {
  const gap: ScanOperation = { kind: 'scan', id: 9, client: 'c1', consistent: false, invokedAt: 21, completedAt: 22, outcome: 'ok', map: map(5, [[1, 5]]) }
  assert.deepEqual(rules([...clean, gap], members(cleanFinal)), ['read-mismatch'])
  const stale: ScanOperation = { ...gap, consistent: true, map: map(4, [[0, 3]]) }
  assert.deepEqual(rules([...clean, stale], members(cleanFinal)), ['stale-read'])
})

test('history: a malformed history (a key or value reused) is reported, not trusted', () => {
  const reused = { ...write(1, 5, [11, 20]), key: 'k0' }
  assert.ok(rules([write(0, 3, [0, 10]), reused], members(map(5, [[0, 5]]))).includes('history'))
})

test('history: any sequential history of distinct writes replayed into a log passes', () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom<WriteOperation['outcome']>('ok', 'failed', 'unknown'), { maxLength: 60 }),
      fc.array(fc.boolean(), { maxLength: 60 }),
      (outcomes, unknownApplied) => {
        const operations: WriteOperation[] = []
        const entries: Array<[number, number]> = []
        let position = 0
        outcomes.forEach((outcome, id) => {
          const applies = outcome === 'ok' || (outcome === 'unknown' && unknownApplied[id] === true)
          if (applies) position += 1 + (id % 3)
          operations.push(write(id, applies ? position : null, [id * 10, outcome === 'unknown' ? null : id * 10 + 5], outcome))
          if (applies) entries.push([id, position])
        })
        const report = checkHistory(operations, members(map(position, entries)))
        assert.deepEqual(report.violations, [])
      },
    ),
    { numRuns: 200 },
  )
})
