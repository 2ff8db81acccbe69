// The kibitzer's coalesceAfterCommit option: a flush that commits entries
// holds its messages for one more flush, so that what the application
// enqueues on applying them leaves in the same send per peer.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Kibitzer } from '../src/index.js'
import type { Committed, Envelope, Message } from '../src/paxos/types.js'
import { idleClock, ScriptedLegislator } from './support/scripted-legislator.js'

const ping = (n: number): Message => ({ type: 'naturalize', id: `n${n}` })
const envelope = (to: string, n: number): Envelope => ({ from: 'self', to, message: ping(n) })
const entry = (position: number): Committed => ({ position, promise: `1/${position}`, entry: { type: 'noop' }, apply: true })

/** `answer`, when given, settles each send: called with the function that answers it, the send stays in flight until then. */
function harness(answer?: (settle: (messages: readonly Message[]) => void) => void) {
  const legislator = new ScriptedLegislator()
  const sends: [string, readonly Message[]][] = []
  const deferred: (() => void)[] = []
  const committed: Committed[][] = []
  const kibitzer = new Kibitzer({
    legislator,
    clock: idleClock,
    tickMs: 10,
    transport: {
      send: async (to, messages) => {
        sends.push([to, messages])
        return answer === undefined ? [] : new Promise<readonly Message[]>((resolve) => answer(resolve))
      },
    },
    onCommitted: (entries) => committed.push([...entries]),
    onFault: (error) => {
      throw error
    },
    defer: (callback) => deferred.push(callback),
    coalesceAfterCommit: true,
  })
  const flush = (): void => {
    for (const callback of deferred.splice(0)) callback()
  }
  return { legislator, kibitzer, sends, deferred, committed, flush }
}

test('a committing flush hands its entries over at once and holds its messages for the next flush', () => {
  const h = harness()
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [envelope('a', 1)]
  h.legislator.committed = [entry(0)]
  h.flush()
  assert.deepEqual(h.committed, [[entry(0)]])
  assert.equal(h.sends.length, 0, 'held')
  assert.equal(h.deferred.length, 1, 'the next flush is scheduled by the kibitzer itself')
  // What the application enqueued on applying leaves with the held message.
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [envelope('a', 2), envelope('b', 3)]
  h.flush()
  assert.deepEqual(
    h.sends.map(([to, messages]) => [to, messages]),
    [
      ['a', [ping(1), ping(2)]],
      ['b', [ping(3)]],
    ],
  )
})

test('messages are held for one flush at most, however many flushes commit', () => {
  const h = harness()
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [envelope('a', 1)]
  h.legislator.committed = [entry(0)]
  h.flush()
  h.legislator.outbox = [envelope('a', 2)]
  h.legislator.committed = [entry(1)]
  h.flush()
  assert.deepEqual(h.sends, [['a', [ping(1), ping(2)]]])
})

test('a flush that commits nothing sends at once', () => {
  const h = harness()
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [envelope('a', 1)]
  h.flush()
  assert.deepEqual(h.sends, [['a', [ping(1)]]])
  assert.equal(h.deferred.length, 0)
})

test('held messages leave on the next flush even when that flush has nothing of its own', () => {
  const h = harness()
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [envelope('a', 1)]
  h.legislator.committed = [entry(0)]
  h.flush()
  assert.equal(h.sends.length, 0, 'held')
  // The flush the kibitzer scheduled finds the legislator idle: the held message goes all the same.
  h.flush()
  assert.deepEqual(h.sends, [['a', [ping(1)]]])
  // And an idle flush after that sends nothing more.
  h.kibitzer.act(() => undefined)
  h.flush()
  assert.equal(h.sends.length, 1)
})

test('the peer whose answer committed is held too: its next send carries the commit and what applying it enqueued', async () => {
  const answers: ((messages: readonly Message[]) => void)[] = []
  const h = harness((settle) => answers.push(settle))
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [envelope('a', 1)]
  h.flush()
  assert.deepEqual(h.sends, [['a', [ping(1)]]], 'a round is out, its send in flight')
  // a's answer completes a majority: the flush it causes commits, and announces it to a.
  h.legislator.reply = () => [envelope('a', 2)]
  h.legislator.committed = [entry(0)]
  ;(answers.shift() as (messages: readonly Message[]) => void)([ping(9)])
  // Let the answer, and the settling of the send that carried it, run.
  for (let turn = 0; turn < 10; turn++) await Promise.resolve()
  h.legislator.reply = null
  assert.equal(h.sends.length, 1, 'the announcement is held, though the send to a settled')
  // Applying the entry enqueued again: its round leaves with the announcement, in one send.
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [envelope('a', 3)]
  h.flush()
  assert.deepEqual(h.sends.slice(1), [['a', [ping(2), ping(3)]]])
})
