// A leader sends a member that stopped advancing the chosen entries it
// lacks, with its pings. When all was sent and the member is still behind,
// some was lost and the leader starts over: at the next ping once the member
// was heard since the last start, else only every CATCH_UP_SILENT_PINGS
// pings. A member that answers nothing (down, or cut off) is not sent the
// whole range again at every ping, which for a dead member cost the leader
// up to `chosenMax` entries built and encoded every ping until it was exiled.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CATCH_UP_SILENT_PINGS, type Legislator } from '../src/paxos/legislator.js'
import type { Envelope } from '../src/paxos/types.js'
import { electWith, OLD, parliamentOfThree, restored, values } from './support/legislators.js'

const TICKS_MAX = 100
/** Three silent periods' worth of pings (the default legislator pings every tick). */
const PINGS = 3 * CATCH_UP_SILENT_PINGS
/** The leader exiles a silent member only after this many ticks, well past the pings these tests look at. */
const EXILE_TICKS = 1000

/** a leads with c's vote; both hold 4 to 9 chosen, b (which hears nothing yet) lacks them. */
function island(): { a: Legislator; b: Legislator; c: Legislator } {
  const government = parliamentOfThree()
  const a = restored('a', { promised: OLD, position: 3, government, governmentPosition: 3, accepted: values(), commit: 9 }, { exileTicks: EXILE_TICKS })
  const b = restored('b', { promised: OLD, position: 3, government, governmentPosition: 3, accepted: [], commit: 3 })
  const c = restored('c', { promised: OLD, position: 3, government, governmentPosition: 3, accepted: values(), commit: 9 })
  electWith(a, c)
  return { a, b, c }
}

/** Ticks a for `pings` pings, c answering and b hearing nothing; returns what a sent b. */
function pingsToB(a: Legislator, c: Legislator, pings: number): Envelope[] {
  const toB: Envelope[] = []
  for (let ping = 0; ping < pings; ping++) {
    a.tick()
    for (const envelope of a.ready().messages) {
      if (envelope.to === 'b') toB.push(envelope)
      else if (envelope.to === 'c') c.receive(envelope.from, envelope.message)
    }
    for (const { from, to, message } of c.ready().messages) if (to === 'a') a.receive(from, message)
  }
  return toB
}

function chosenPositions(envelopes: readonly Envelope[]): number[][] {
  return envelopes
    .map(({ message }) => (message.type === 'accept' ? message.chosen.map((item) => item.position) : []))
    .filter((positions) => positions.length > 0)
}

test('a member that answers nothing is sent what it lacks once every CATCH_UP_SILENT_PINGS pings, not at every ping', () => {
  const { a, c } = island()
  const sent = chosenPositions(pingsToB(a, c, PINGS))
  assert.equal(sent.length, PINGS / CATCH_UP_SILENT_PINGS, `catch-ups in ${PINGS} pings to a silent member: ${JSON.stringify(sent)}`)
  for (const positions of sent) assert.deepEqual(positions.slice(0, 6), [4, 5, 6, 7, 8, 9])
})

test('once the member answers, the leader starts over at the next ping and the member catches up', () => {
  const { a, b, c } = island()
  const silent = pingsToB(a, c, PINGS)
  const starts = silent.map(({ message }) => message.type === 'accept' && message.chosen.length > 0)
  const sinceStart = silent.length - 1 - starts.lastIndexOf(true)
  assert.ok(sinceStart + 1 < CATCH_UP_SILENT_PINGS, `the next ping is not one of the silent member's periodic ones (${sinceStart})`)
  // b wakes: it takes the latest ping (no chosen entries in it) and answers.
  const latest = silent.at(-1) as Envelope
  assert.equal(starts.at(-1), false)
  b.receive(latest.from, latest.message)
  const answers = b.ready().messages.filter((envelope) => envelope.to === 'a')
  assert.ok(answers.length > 0, 'b answers the ping')
  for (const { from, message } of answers) a.receive(from, message)
  // Having heard b, a sends it what it lacks with the next ping, and b learns 4 to 9 chosen.
  const next = pingsToB(a, c, 1)
  assert.ok(chosenPositions(next).length > 0, 'the next ping carries what b lacks')
  for (const { from, message } of next) b.receive(from, message)
  b.ready()
  assert.ok(b.commit >= 9, `b learned 4 to 9 chosen (commit ${b.commit})`)
})

/** a (holding 4 to 9 chosen) elected by the vote of b, which is behind (c is down); returns what a sent b once elected. */
function electedByLaggard(): { a: Legislator; b: Legislator; toB: Envelope[] } {
  const government = parliamentOfThree()
  const a = restored('a', { promised: OLD, position: 3, government, governmentPosition: 3, accepted: values(), commit: 9 }, { exileTicks: EXILE_TICKS })
  const b = restored('b', { promised: OLD, position: 3, government, governmentPosition: 3, accepted: [], commit: 3 })
  const toB: Envelope[] = []
  for (let ticks = 0; a.role !== 'leader' && ticks < TICKS_MAX; ticks++) {
    a.tick()
    for (let turn = 0; turn < 4 && toB.length === 0; turn++) {
      for (const envelope of a.ready().messages) {
        if (envelope.to !== 'b') continue
        if ((a.role as string) === 'leader') toB.push(envelope)
        else b.receive(envelope.from, envelope.message)
      }
      for (const { from, to, message } of b.ready().messages) if (to === 'a') a.receive(from, message)
    }
  }
  assert.equal(a.role, 'leader', 'a leads with b')
  return { a, b, toB }
}

/** Delivers `toB` to b and lets the two exchange for up to `turns` turns; returns how many messages a sent b meanwhile. */
function exchange(a: Legislator, b: Legislator, toB: readonly Envelope[], turns: number): number {
  let pending = toB
  let sent = 0
  for (let turn = 0; turn < turns && pending.length > 0; turn++) {
    for (const { from, message } of pending) b.receive(from, message)
    for (const { from, to, message } of b.ready().messages) if (to === 'a') a.receive(from, message)
    pending = a.ready().messages.filter(({ to }) => to === 'b')
    sent += pending.length
  }
  return sent
}

test('a promiser behind the new leader gets what it lacks with the first accept of the election, not pings later', () => {
  const { a, b, toB } = electedByLaggard()
  const first = toB.find(({ message }) => message.type === 'accept')
  assert.ok(first !== undefined && first.message.type === 'accept', 'a sends b an accept once elected')
  assert.deepEqual(
    first.message.chosen.map((item) => item.position),
    [4, 5, 6, 7, 8, 9],
  )
  const sent = exchange(a, b, toB, 10)
  assert.equal(b.commit, a.commit, 'b caught up')
  assert.ok(sent <= 2, `a sent b ${sent} more messages once it had what it lacked`)
})

test('a member behind the point the leader was elected at, first heard after the election, is sent what it lacks in answer to its first answer', () => {
  // a was elected with c's vote alone; b, at 3, answers a ping only now (its promise was lost).
  const { a, b, c } = island()
  const ping = pingsToB(a, c, 1)
  assert.deepEqual(chosenPositions(ping), [], 'the first ping carries nothing b lacks: a has not heard b yet')
  for (const { from, message } of ping) b.receive(from, message)
  for (const { from, to, message } of b.ready().messages) if (to === 'a') a.receive(from, message)
  const reply = a.ready().messages.filter(({ to }) => to === 'b')
  assert.deepEqual(chosenPositions(reply)[0]?.slice(0, 6), [4, 5, 6, 7, 8, 9], 'b is sent 4 to 9 at once, not pings later')
})

test('a member still behind once all it lacks was sent is not answered with empty accepts: the next ping starts over', () => {
  const { a, b, toB } = electedByLaggard()
  assert.ok(toB.some(({ message }) => message.type === 'accept' && message.chosen.length > 0))
  // That accept is lost; b hears the next ping and answers, still at 3.
  a.tick()
  const ping = a.ready().messages.filter(({ to }) => to === 'b')
  assert.ok(ping.length > 0, 'a pings b')
  const sent = exchange(a, b, ping, 10)
  assert.ok(sent <= 1, `a answered b's answers with ${sent} accepts that carried nothing new`)
  assert.equal(b.commit, 3, 'b is still behind until the next start over')
})
