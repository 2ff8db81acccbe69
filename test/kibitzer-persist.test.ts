// Durable mode in the kibitzer: nothing of a flush leaves before its persist.
// A promise or an accepted entry a peer may count on, and every commit a
// message tells of, is on this member's disk before the message goes; a
// persist that fails stops the kibitzer and sends nothing of that flush.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Kibitzer } from '../src/index.js'
import type { Committed, Message } from '../src/paxos/types.js'
import { idleClock, ScriptedLegislator } from './support/scripted-legislator.js'

const accept = (n: number): Message => ({
  type: 'accept',
  ballot: { round: 1, id: 'self' },
  entries: [],
  chosen: [],
  commit: n,
  trim: -1,
})
const accepted = (n: number): Message => ({ type: 'accepted', ballot: { round: 1, id: 'self' }, ranges: [], commit: n })

function harness(persistFails = false) {
  const legislator = new ScriptedLegislator()
  const events: string[] = []
  const deferred: (() => void)[] = []
  const faults: unknown[] = []
  const kibitzer = new Kibitzer({
    legislator,
    clock: idleClock,
    tickMs: 10,
    transport: {
      send: async (to, messages) => {
        events.push(`send ${to} ${messages.map((message) => message.type).join(',')}`)
      },
    },
    onCommitted: (committed) => events.push(`committed ${committed.length}`),
    onFault: (error) => faults.push(error),
    persist: () => {
      events.push('persist')
      if (persistFails) throw new Error('disk gone')
    },
    defer: (callback) => deferred.push(callback),
  })
  const runDeferred = (): void => {
    for (const callback of deferred.splice(0)) callback()
  }
  return { legislator, kibitzer, events, deferred, runDeferred, faults }
}

const committed: Committed = { position: 1, promise: '1/0', entry: { type: 'noop' }, apply: true }

test("every message of a flush, a leader's accepts included, leaves after its persist; commits are handed on after it too", () => {
  const h = harness()
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [
    { from: 'self', to: 'a', message: accept(1) },
    { from: 'self', to: 'b', message: accepted(0) },
    { from: 'self', to: 'self', message: accepted(1) },
  ]
  h.legislator.committed = [committed]
  h.runDeferred()
  assert.deepEqual(h.events, ['persist', 'send a accept', 'send b accepted', 'committed 1'])
  assert.deepEqual(h.legislator.received, [['self', accepted(1)]])
})

test('an exchange persists before it answers', () => {
  const h = harness()
  h.legislator.reply = (from) => [{ from: 'self', to: from, message: accepted(1) }]
  assert.deepEqual(h.kibitzer.exchange('leader', [accept(1)]), [accepted(1)])
  assert.deepEqual(h.events, ['persist'])
})

test('a persist that fails sends nothing of its flush and stops the kibitzer', () => {
  const h = harness(true)
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [
    { from: 'self', to: 'a', message: accept(1) },
    { from: 'self', to: 'b', message: accepted(0) },
    { from: 'self', to: 'self', message: accepted(1) },
  ]
  h.legislator.committed = [committed]
  h.runDeferred()
  assert.deepEqual(h.events, ['persist'])
  assert.equal(h.faults.length, 1)
  assert.deepEqual(h.legislator.received, [])
  assert.throws(() => h.kibitzer.act(() => undefined), /stopped/)
})
