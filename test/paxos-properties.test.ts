import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { compareBallot } from '../src/paxos/ballot.js'
import { bootstrapGovernment, membersOf, nextGovernment, parliamentOf } from '../src/paxos/government.js'
import { hasQuorum, parliamentSizeFor, quorumSize } from '../src/paxos/quorum.js'
import { SubmitterLedger } from '../src/paxos/submitters.js'
import { Legislator } from '../src/paxos/legislator.js'
import type { Ballot, Message } from '../src/paxos/types.js'

// Every property prints its seed on failure (fast-check reports it); pin one with FC_SEED.
const seed = process.env['FC_SEED'] === undefined ? undefined : Number(process.env['FC_SEED'])
const params = { numRuns: 500, ...(seed === undefined ? {} : { seed }) }

const ballot = fc.record({ round: fc.nat({ max: 20 }), id: fc.constantFrom('a', 'b', 'c', 'd') })

test('ballot order is a total order with the proposer as tiebreak', () => {
  fc.assert(
    fc.property(ballot, ballot, ballot, (a: Ballot, b: Ballot, c: Ballot) => {
      assert.ok(Math.sign(compareBallot(a, b)) === -Math.sign(compareBallot(b, a)))
      assert.equal(compareBallot(a, b) === 0, a.round === b.round && a.id === b.id)
      if (compareBallot(a, b) <= 0 && compareBallot(b, c) <= 0) assert.ok(compareBallot(a, c) <= 0)
      if (a.round !== b.round) assert.equal(Math.sign(compareBallot(a, b)), Math.sign(a.round - b.round))
    }),
    params,
  )
})

test('quorum math agrees with a naive count, and any two quorums intersect', () => {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g']
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 7 }),
      fc.subarray(ids),
      fc.subarray(ids),
      (size, left, right) => {
        const parliament = ids.slice(0, size)
        const naive = (votes: readonly string[]): boolean =>
          parliament.filter((id) => votes.includes(id)).length * 2 > parliament.length
        assert.equal(hasQuorum(parliament, new Set(left)), naive(left))
        if (naive(left) && naive(right)) assert.ok(parliament.some((id) => left.includes(id) && right.includes(id)))
        assert.equal(quorumSize(size) * 2 > size && (quorumSize(size) - 1) * 2 <= size, true)
      },
    ),
    params,
  )
})

test('parliament size is odd, at least one, within both limits', () => {
  fc.assert(
    fc.property(fc.nat({ max: 20 }), fc.integer({ min: 0, max: 4 }), (available, half) => {
      const limit = half * 2 + 1
      const size = parliamentSizeFor(available, limit)
      assert.equal(size % 2, 1)
      assert.ok(size >= 1 && size <= limit && (available === 0 || size <= available))
      assert.ok(size + 2 > Math.min(available, limit))
    }),
    params,
  )
})

test('a reshaped government keeps its leader first, its parliament odd and naturalized', () => {
  const ids = ['b', 'c', 'd', 'e', 'f', 'g']
  fc.assert(
    fc.property(
      fc.subarray(ids),
      fc.subarray(ids),
      fc.subarray(ids),
      fc.integer({ min: 0, max: 3 }),
      (immigrants, naturalize, exile, half) => {
        let government = bootstrapGovernment('island', 'a', {})
        const empty = { submitters: {}, live: new Set<string>(), naturalize: new Set<string>(), exile: new Set<string>() }
        government = nextGovernment(government, {
          ...empty,
          leader: 'a',
          parliamentSize: half * 2 + 1,
          immigrate: new Map(immigrants.map((id) => [id, {}])),
        })
        government = nextGovernment(government, {
          ...empty,
          leader: 'a',
          parliamentSize: half * 2 + 1,
          immigrate: new Map(),
          naturalize: new Set(naturalize),
          exile: new Set(exile),
        })
        const parliament = parliamentOf(government)
        assert.equal(government.majority[0], 'a')
        assert.equal(parliament.length % 2, 1)
        assert.ok(parliament.length <= half * 2 + 1)
        for (const id of parliament) assert.ok(government.naturalized.includes(id))
        for (const id of exile) assert.ok(!membersOf(government).includes(id))
        assert.equal(new Set(membersOf(government)).size, membersOf(government).length)
        assert.equal(government.majority.length, quorumSize(parliament.length))
      },
    ),
    params,
  )
})

test('the submitter ledger applies each seq once, in any order, and survives a round trip', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 200 }), (seqs) => {
      const ledger = new SubmitterLedger()
      const seen = new Set<number>()
      for (const seq of seqs) {
        assert.equal(ledger.record('a', seq), !seen.has(seq))
        seen.add(seq)
        const copy = SubmitterLedger.fromTable(ledger.toTable())
        for (let probe = 1; probe <= 60; probe++) assert.equal(copy.applied('a', probe), seen.has(probe))
      }
    }),
    { ...params, numRuns: 200 },
  )
})

test('malformed or stale messages are ignored or refused, never thrown', () => {
  const types = ['prepare', 'promise', 'accept', 'accepted', 'reject', 'forward', 'immigrate', 'naturalize', 'leave', 'other']
  // Anything in each field, including nulls and wrong types inside arrays.
  const junk = fc.oneof(
    fc.anything(),
    fc.array(fc.anything(), { maxLength: 3 }),
    fc.record({ round: fc.integer(), id: fc.string() }),
    fc.array(fc.record({ position: fc.integer({ min: -2, max: 12 }), ballot: fc.anything(), entry: fc.anything() }), { maxLength: 3 }),
  )
  const message = fc.record({
    type: fc.constantFrom(...types),
    ballot: junk,
    from: junk,
    accepted: junk,
    entries: junk,
    chosen: junk,
    commit: junk,
    trim: junk,
    ranges: junk,
    promised: junk,
    reason: junk,
    submissions: junk,
    id: junk,
    properties: junk,
  })
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'x'), message), { maxLength: 20 }), (inputs) => {
      for (const role of ['leader', 'follower', 'newcomer'] as const) {
        const legislator = new Legislator({ id: role === 'follower' ? 'b' : 'a', random: () => 0.5 })
        if (role !== 'newcomer') legislator.bootstrap('island', {})
        legislator.enqueue('v')
        for (const [from, body] of inputs) {
          legislator.receive(from, body as unknown as Message)
          legislator.tick()
          legislator.ready()
        }
      }
    }),
    { ...params, numRuns: 300 },
  )
})

test('well-formed but stale, divergent or forged messages never trip an assertion', () => {
  const ids = fc.constantFrom('a', 'b', 'c', 'x')
  const ballotArb = fc.record({ round: fc.nat({ max: 6 }), id: ids })
  const position = fc.nat({ max: 8 })
  const government = fc.record({
    islandId: fc.constant('island'),
    number: fc.integer({ min: 1, max: 9 }),
    promise: fc.constantFrom('1/0', '2/0', '3/0'),
    majority: fc.uniqueArray(ids, { minLength: 1, maxLength: 2 }),
    minority: fc.uniqueArray(ids, { maxLength: 2 }),
    constituents: fc.uniqueArray(ids, { maxLength: 2 }),
    naturalized: fc.uniqueArray(ids, { maxLength: 4 }),
    exiled: fc.uniqueArray(ids, { maxLength: 1 }),
    properties: fc.constant({}),
    arrived: fc.constant({}),
    submitters: fc.constant({}),
  })
  const entry = fc.oneof(
    fc.constant({ type: 'noop' as const }),
    fc.record({ type: fc.constant('value' as const), submission: fc.record({ from: ids, seq: fc.integer({ min: 1, max: 4 }), value: fc.nat() }) }),
    fc.record({ type: fc.constant('government' as const), government }),
  )
  const accepted = fc.array(fc.record({ position, ballot: ballotArb, entry }), { maxLength: 4 })
  const message = fc.oneof(
    fc.record({ type: fc.constant('prepare' as const), ballot: ballotArb, from: position }),
    fc.record({ type: fc.constant('promise' as const), ballot: ballotArb, accepted, commit: position, from: position }),
    fc.record({ type: fc.constant('accept' as const), ballot: ballotArb, entries: accepted, chosen: accepted, commit: position, trim: position }),
    fc.record({ type: fc.constant('accepted' as const), ballot: ballotArb, ranges: fc.array(fc.record({ from: position, to: position })), commit: position }),
    fc.record({ type: fc.constant('reject' as const), ballot: ballotArb, promised: ballotArb, commit: position, reason: fc.constantFrom('ballot', 'leader-alive', 'not-member', 'exiled', 'trimmed') }),
    fc.record({ type: fc.constant('forward' as const), submissions: fc.array(fc.record({ from: ids, seq: fc.integer({ min: 1, max: 4 }), value: fc.nat() }), { maxLength: 3 }) }),
    fc.record({ type: fc.constant('immigrate' as const), id: ids, properties: fc.constant({}) }),
    fc.record({ type: fc.constant('naturalize' as const), id: ids }),
    fc.record({ type: fc.constant('leave' as const) }),
  )
  fc.assert(
    fc.property(fc.array(fc.tuple(ids, message, fc.nat({ max: 3 })), { maxLength: 30 }), (inputs) => {
      for (const role of ['leader', 'follower', 'newcomer'] as const) {
        const legislator = new Legislator({ id: role === 'follower' ? 'b' : 'a', random: () => 0.5 })
        if (role !== 'newcomer') legislator.bootstrap('island', {})
        legislator.enqueue('v')
        for (const [from, body, ticks] of inputs) {
          legislator.receive(from, body as Message)
          for (let tick = 0; tick < ticks; tick++) legislator.tick()
          legislator.ready()
        }
      }
    }),
    { ...params, numRuns: 1000 },
  )
})
