// The kibitzer's pacing: a peer the driver calls paced (a leader's minority
// and constituents) is sent to at most once per `paceMs`, each send carrying
// all that waited; the others are sent to as soon as their last send settled.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Kibitzer } from '../src/index.js'
import { PACE_ENTRIES_ENOUGH } from '../src/kibitzer/kibitzer.js'
import type { Committed, Envelope, Message } from '../src/paxos/types.js'
import { ManualClock } from './support/manual-clock.js'
import { ScriptedLegislator } from './support/scripted-legislator.js'

const ping = (n: number): Message => ({ type: 'naturalize', id: `n${n}` })
const envelope = (to: string, n: number): Envelope => ({ from: 'self', to, message: ping(n) })
const ballot = { round: 1, id: 'self' }
/** An accept round of `count` entries from `from`. */
const round = (from: number, count: number): Message => ({
  type: 'accept',
  ballot,
  entries: Array.from({ length: count }, (_, index) => ({ position: from + index, ballot, entry: { type: 'noop' } })),
  chosen: [],
  commit: from - 1,
  trim: 0,
})

/** A committed value that `from` submitted. */
const committedFrom = (from: string, position: number): Committed => ({
  position,
  promise: `1/${position}`,
  entry: { type: 'value', submission: { from, seq: position, value: String(position) } },
  apply: true,
})

function harness(paced: (peer: string) => boolean, paceMs = 10) {
  const legislator = new ScriptedLegislator()
  const clock = new ManualClock()
  const sends: [string, readonly Message[]][] = []
  const settle: (() => void)[] = []
  const deferred: (() => void)[] = []
  const kibitzer = new Kibitzer({
    legislator,
    clock,
    tickMs: 1000,
    transport: {
      send: (to, messages) => {
        sends.push([to, messages])
        return new Promise<void>((resolve) => settle.push(resolve))
      },
    },
    onCommitted: () => {},
    onFault: (error) => {
      throw error
    },
    defer: (callback) => deferred.push(callback),
    paced,
    paceMs,
  })
  /** Hands `envelopes` to the kibitzer as one flush. */
  const emit = (...envelopes: Envelope[]): void => {
    kibitzer.act(() => {
      legislator.outbox.push(...envelopes)
    })
    for (const callback of deferred.splice(0)) callback()
  }
  /** Settles every send in flight and lets their continuations run. */
  const answer = async (): Promise<void> => {
    for (const resolve of settle.splice(0)) resolve()
    await new Promise((resolve) => setImmediate(resolve))
  }
  const to = (peer: string): Message[][] => sends.filter(([id]) => id === peer).map(([, messages]) => [...messages])
  return { kibitzer, legislator, clock, sends, emit, answer, to }
}

test('a paced peer is sent to at most once per paceMs, all that waited in one send; the others as soon as their send settled', async () => {
  const h = harness((peer) => peer === 'minority')
  h.emit(envelope('majority', 1), envelope('minority', 1))
  assert.deepEqual(h.to('majority'), [[ping(1)]])
  assert.deepEqual(h.to('minority'), [[ping(1)]], 'the first send to a paced peer leaves at once')
  await h.answer()
  for (let n = 2; n <= 4; n++) {
    h.clock.advance(2)
    h.emit(envelope('majority', n), envelope('minority', n))
    await h.answer()
  }
  assert.deepEqual(h.to('majority'), [[ping(1)], [ping(2)], [ping(3)], [ping(4)]], 'the majority hears each at once')
  assert.deepEqual(h.to('minority'), [[ping(1)]], 'the minority waits for its pace')
  assert.equal(h.clock.pending, 1, 'one timer for the paced peer')
  h.clock.advance(3)
  assert.deepEqual(h.to('minority'), [[ping(1)]], 'nine ms after its last send: still waiting')
  h.clock.advance(1)
  assert.deepEqual(h.to('minority'), [[ping(1)], [ping(2), ping(3), ping(4)]], 'ten ms after its last send, all that waited')
  await h.answer()
  // Quiet for longer than the pace: the next message leaves at once again.
  h.clock.advance(50)
  h.emit(envelope('minority', 5))
  assert.deepEqual(h.to('minority').at(-1), [ping(5)])
  assert.equal(h.clock.pending, 0)
})

test('pacing asks at each send: a peer that stops being paced is sent to at once', async () => {
  let pacedNow = true
  const h = harness(() => pacedNow)
  h.emit(envelope('b', 1))
  await h.answer()
  h.emit(envelope('b', 2))
  assert.equal(h.to('b').length, 1, 'held by the pace')
  // Once b is no longer paced, the next flush sends at once, what waited included.
  pacedNow = false
  h.emit(envelope('b', 3))
  assert.deepEqual(h.to('b'), [[ping(1)], [ping(2), ping(3)]])
  h.clock.advance(10)
  assert.equal(h.to('b').length, 2, 'the pace timer finds nothing left')
  await h.answer()
  h.emit(envelope('b', 4))
  assert.deepEqual(h.to('b').at(-1), [ping(4)], 'unpaced: at once')
})

test('paceMs 0 paces nothing, and stop() clears the pace timers', async () => {
  const unpaced = harness(() => true, 0)
  unpaced.emit(envelope('b', 1))
  await unpaced.answer()
  unpaced.emit(envelope('b', 2))
  assert.deepEqual(unpaced.to('b'), [[ping(1)], [ping(2)]])

  const h = harness(() => true)
  h.emit(envelope('b', 1))
  await h.answer()
  h.emit(envelope('b', 2))
  assert.equal(h.clock.pending, 1)
  h.kibitzer.stop()
  assert.equal(h.clock.pending, 0, 'no timer outlives the kibitzer')
  h.clock.advance(100)
  assert.equal(h.to('b').length, 1, 'nothing is sent after stop')
  assert.throws(() => harness(() => true, -1), RangeError)
})

test('rounds that carry enough entries go to a paced peer at once: under load the minority keeps in step', async () => {
  const h = harness(() => true)
  h.emit({ from: 'self', to: 'b', message: round(1, 1) })
  await h.answer()
  h.emit({ from: 'self', to: 'b', message: round(2, 1) })
  assert.equal(h.to('b').length, 1, 'a small round waits for the pace')
  h.emit({ from: 'self', to: 'b', message: round(3, PACE_ENTRIES_ENOUGH - 1) })
  assert.equal(h.to('b').length, 2, 'with what waited, enough entries: sent without waiting for the timer')
  assert.deepEqual(
    h.to('b')[1]?.map((message) => (message.type === 'accept' ? message.entries.length : 0)),
    [1, PACE_ENTRIES_ENOUGH - 1],
  )
  await h.answer()
  h.clock.advance(10)
  assert.equal(h.to('b').length, 2, 'the timer finds nothing left to send')
})

test('a paced peer whose own submission a flush commits hears it at once: its caller waits on that news', async () => {
  const h = harness((peer) => peer === 'minority')
  h.emit(envelope('minority', 1))
  await h.answer()
  h.legislator.committed = [committedFrom('majority', 1), committedFrom('self', 2)]
  h.emit(envelope('minority', 2))
  assert.equal(h.to('minority').length, 1, "others' values committed: the minority waits for its pace")
  h.legislator.committed = [committedFrom('minority', 3)]
  h.emit(envelope('minority', 3))
  assert.deepEqual(h.to('minority'), [[ping(1)], [ping(2), ping(3)]], 'its own value committed: at once, with what waited')
  await h.answer()
  h.emit(envelope('minority', 4))
  assert.equal(h.to('minority').length, 2, 'that send cleared it: the next waits for the pace again')
  h.clock.advance(10)
  assert.deepEqual(h.to('minority').at(-1), [ping(4)])
})

test('a government committed goes to every paced peer at once: an arrival, a promotion or a departure is news they wait on', async () => {
  const h = harness((peer) => peer !== 'majority')
  h.emit(envelope('minority', 1), envelope('newcomer', 1))
  await h.answer()
  h.emit(envelope('minority', 2), envelope('newcomer', 2))
  assert.equal(h.sends.length, 2, 'held by the pace')
  const government: Committed = { position: 5, promise: '2/0', entry: { type: 'noop' }, apply: true }
  h.legislator.committed = [{ ...government, entry: { type: 'government', government: {} as never } }]
  h.emit(envelope('minority', 3))
  assert.deepEqual(h.to('minority').at(-1), [ping(2), ping(3)])
  assert.deepEqual(h.to('newcomer').at(-1), [ping(2)])
})

test('chosen entries a lagging peer catches up with count toward a send worth its wake-up', async () => {
  const h = harness(() => true)
  h.emit(envelope('b', 1))
  await h.answer()
  const chosen = Array.from({ length: PACE_ENTRIES_ENOUGH }, (_, index) => ({ position: index + 1, ballot, entry: { type: 'noop' as const } }))
  h.emit({ from: 'self', to: 'b', message: { type: 'accept', ballot, entries: [], chosen, commit: PACE_ENTRIES_ENOUGH, trim: 0 } })
  assert.equal(h.to('b').length, 2, 'a batch of catch-up leaves without waiting for the pace')
})

test('what waited for a peer a committed government leaves out goes at once: it is paced no longer, and waits on that news', async () => {
  const pacedNow = new Set(['leaver'])
  const h = harness((peer) => pacedNow.has(peer))
  h.emit(envelope('leaver', 1))
  await h.answer()
  h.emit(envelope('leaver', 2))
  assert.equal(h.to('leaver').length, 1, 'held by the pace')
  pacedNow.delete('leaver')
  h.legislator.committed = [{ position: 5, promise: '3/0', entry: { type: 'government', government: {} as never }, apply: true }]
  h.emit(envelope('other', 1))
  assert.deepEqual(h.to('leaver').at(-1), [ping(2)])
})
