// With `entryBytes` and `messageBytesMax`, what a leader sends is bounded by
// size as well as by count: a round's entries fit in the bound, the rounds
// not yet chosen in twice it (a promise carries them all), a catch-up's
// chosen entries in the bound, and so does a probe's answer; each takes at
// least one entry, so that an entry larger than the bound still goes. A
// message larger than a peer takes would be lost at every try, and the island
// would stop.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Legislator, LegislatorOptions } from '../src/paxos/legislator.js'
import type { Envelope, LogEntry } from '../src/paxos/types.js'
import { electWith, OLD, parliamentOfThree, restored, values } from './support/legislators.js'

const EXILE_TICKS = 1000
/** Every entry weighs 10; a message takes 30: three entries. */
const BOUNDS: Pick<LegislatorOptions, 'entryBytes' | 'messageBytesMax'> = { entryBytes: () => 10, messageBytesMax: 30 }

/** a leads with c's vote; a and c hold 4 to 9 chosen (values c submitted, so that a's own seqs start afresh), b lacks them. */
function island(options: Partial<LegislatorOptions> = BOUNDS): { a: Legislator; c: Legislator } {
  const government = parliamentOfThree()
  const accepted = values().map((item) => (item.entry.type === 'value' ? { ...item, entry: { ...item.entry, submission: { ...item.entry.submission, from: 'c' } } } : item))
  const a = restored('a', { promised: OLD, position: 3, government, governmentPosition: 3, accepted, commit: 9 }, { exileTicks: EXILE_TICKS, ...options })
  const c = restored('c', { promised: OLD, position: 3, government, governmentPosition: 3, accepted, commit: 9 }, options)
  electWith(a, c)
  a.ready()
  return { a, c }
}

/** The positions of each accept with entries that a sent c. */
function roundsTo(envelopes: readonly Envelope[], to: string): number[][] {
  const rounds: number[][] = []
  for (const { to: receiver, message } of envelopes) {
    if (receiver === to && message.type === 'accept' && message.entries.length > 0) rounds.push(message.entries.map((item) => item.position))
  }
  return rounds
}

/** Runs a and c for `turns` ticks, c answering a's accepts or not; returns a's accepts with entries to c (a round, or one sent again). */
function run(a: Legislator, c: Legislator, turns: number, answer: boolean): number[][] {
  const rounds: number[][] = []
  for (let turn = 0; turn < turns; turn++) {
    a.tick()
    const sent = a.ready().messages
    rounds.push(...roundsTo(sent, 'c'))
    if (!answer) continue
    for (const { from, to, message } of sent) if (to === 'c') c.receive(from, message)
    for (const { from, to, message } of c.ready().messages) if (to === 'a') a.receive(from, message)
  }
  return rounds
}

const distinct = (rounds: readonly number[][]): number => new Set(rounds.flat()).size
const largest = (rounds: readonly number[][]): number => Math.max(0, ...rounds.map((round) => round.length))

test('a leader\'s rounds fit in messageBytesMax, and its rounds not chosen in twice it; what is chosen lets the rest go', () => {
  const { a, c } = island()
  for (let index = 0; index < 20; index++) assert.equal(a.enqueue({ index }).ok, true)
  // c answers nothing for a few ticks (short of a's stepping down): two rounds of three go out (and out again), and no more.
  const waiting = run(a, c, 4, false)
  assert.equal(distinct(waiting), 6, `six positions out, in rounds ${JSON.stringify(waiting)}`)
  assert.equal(largest(waiting), 3)
  // c answers: the rest go, three at most a round, and every one is chosen.
  const rest = run(a, c, 40, true)
  assert.equal(largest(rest), 3, `rounds of at most three entries: ${JSON.stringify(rest)}`)
  assert.equal(distinct([...waiting, ...rest]), 20, 'every value went out once the earlier rounds were chosen')
  assert.equal(a.inspect().pending, 0, 'and every one was chosen')
})

test('an entry larger than messageBytesMax still goes, alone', () => {
  const { a, c } = island({ entryBytes: (entry: LogEntry) => (entry.type === 'value' ? 100 : 1), messageBytesMax: 30 })
  for (let index = 0; index < 3; index++) a.enqueue({ index })
  const waiting = run(a, c, 4, false)
  assert.deepEqual([distinct(waiting), largest(waiting)], [1, 1], 'one entry, then nothing until it is chosen')
  const rest = run(a, c, 20, true)
  assert.deepEqual([distinct([...waiting, ...rest]), largest(rest)], [3, 1], 'then the others, one a round')
  assert.equal(a.inspect().pending, 0)
})

test('a catch-up carries chosen entries that fit in messageBytesMax, and goes on from where it stopped', () => {
  const { a, c } = island()
  const chosen: number[][] = []
  for (let ping = 0; ping < 6; ping++) {
    a.tick()
    for (const envelope of a.ready().messages) {
      if (envelope.to === 'b' && envelope.message.type === 'accept' && envelope.message.chosen.length > 0) {
        chosen.push(envelope.message.chosen.map((item) => item.position))
        // b answers that it is still where it was, as a lagging member does.
        a.receive('b', { type: 'accepted', ballot: envelope.message.ballot, ranges: [], commit: 3 })
      } else if (envelope.to === 'c') c.receive(envelope.from, envelope.message)
    }
    for (const { from, to, message } of c.ready().messages) if (to === 'a') a.receive(from, message)
  }
  assert.ok(chosen.length >= 2, `sent in parts: ${JSON.stringify(chosen)}`)
  assert.ok(chosen.every((positions) => positions.length <= 3), `at most three entries a message: ${JSON.stringify(chosen)}`)
  assert.deepEqual(chosen.slice(0, 2), [[4, 5, 6], [7, 8, 9]])
})

test('a probe\'s answer carries chosen entries that fit in messageBytesMax', () => {
  const { c } = island()
  c.receive('b', { type: 'forward', submissions: [], commit: 3 })
  const answers = c.ready().messages.filter((envelope) => envelope.to === 'b')
  assert.deepEqual(answers.map(({ message }) => (message.type === 'forward' ? message.chosen?.map((item) => item.position) : null)), [[4, 5, 6]])
})

test('a follower forwards its submissions to the leader in messages that fit in messageBytesMax', () => {
  const { c } = island()
  for (let index = 0; index < 7; index++) assert.equal(c.enqueue({ index }).ok, true)
  const forwards = c.ready().messages.filter((envelope) => envelope.to === 'a' && envelope.message.type === 'forward')
  assert.deepEqual(forwards.map(({ message }) => (message.type === 'forward' ? message.submissions.length : 0)), [3, 3, 1])
})
