// Durable mode in the kibitzer: nothing of a flush leaves before its persist,
// except the messages `sendBeforePersist` names (a leader's accept requests),
// which leave first; the persist then runs one deferral later, the rest of
// the flush (its own acceptance, replies, committed entries) after it, and no
// other flush runs in between.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Kibitzer } from '../src/index.js'
import type { Committed, Envelope, Message } from '../src/paxos/types.js'
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

function harness(early: boolean, persistFails = false) {
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
    ...(early && { sendBeforePersist: (message: Message) => message.type === 'accept' }),
    defer: (callback) => deferred.push(callback),
  })
  const runDeferred = (): void => {
    for (const callback of deferred.splice(0)) callback()
  }
  return { legislator, kibitzer, events, deferred, runDeferred, faults }
}

const committed: Committed = { position: 1, promise: '1/0', entry: { type: 'noop' }, apply: true }

test('without sendBeforePersist every message of a flush leaves after its persist', () => {
  const h = harness(false)
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [
    { from: 'self', to: 'a', message: accept(1) },
    { from: 'self', to: 'self', message: accepted(1) },
  ]
  h.runDeferred()
  assert.deepEqual(h.events, ['persist', 'send a accept'])
  assert.deepEqual(h.legislator.received, [['self', accepted(1)]])
})

test("a leader's accepts leave before its persist; its own acceptance, replies and commits wait for it", async () => {
  const h = harness(true)
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [
    { from: 'self', to: 'a', message: accept(1) },
    { from: 'self', to: 'b', message: accept(1) },
    { from: 'self', to: 'c', message: accepted(0) },
    { from: 'self', to: 'self', message: accepted(1) },
  ]
  h.legislator.committed = [committed]
  h.runDeferred()
  // The accepts are handed to the transport; the persist is one deferral away.
  assert.deepEqual(h.events, ['send a accept', 'send b accept'])
  assert.deepEqual(h.legislator.received, [])
  assert.equal(h.deferred.length, 1)

  // Inputs meanwhile are taken, but no flush runs before the persist.
  h.kibitzer.receive('a', [accepted(1)])
  assert.deepEqual(h.kibitzer.exchange('b', [accepted(1)]), [], 'no answer while a persist waits')
  const readies = h.legislator.readies
  h.legislator.outbox = [{ from: 'self', to: 'a', message: accepted(2) }]
  // A flush that comes due meanwhile finds the persist pending and waits behind it.
  const due = h.deferred.splice(0)
  for (const callback of due.reverse()) callback()
  assert.equal(h.legislator.readies, readies, 'a flush ran while the persist was pending')
  assert.deepEqual(h.events.slice(2), ['persist', 'send c accepted', 'committed 1'])
  assert.deepEqual((h.legislator.received as [string, Message][]).map(([from]) => from), ['a', 'b', 'self'])

  // Once persisted, the flush asked for meanwhile runs.
  h.runDeferred()
  assert.equal(h.legislator.readies, readies + 1)
  await h.kibitzer.drained()
  assert.deepEqual(h.events.slice(5), ['persist', 'send a accepted'])
})

test('a flush without early messages persists at once, as without the option', () => {
  const h = harness(true)
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [{ from: 'self', to: 'a', message: accepted(1) }]
  h.runDeferred()
  assert.deepEqual(h.events, ['persist', 'send a accepted'])
  assert.equal(h.deferred.length, 0)
})

test('a persist that fails after the early accepts left sends nothing more and stops the kibitzer', () => {
  const h = harness(true, true)
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [
    { from: 'self', to: 'a', message: accept(1) },
    { from: 'self', to: 'b', message: accepted(0) },
    { from: 'self', to: 'self', message: accepted(1) },
  ]
  h.legislator.committed = [committed]
  h.runDeferred()
  h.runDeferred()
  assert.deepEqual(h.events, ['send a accept', 'persist'])
  assert.equal(h.faults.length, 1)
  assert.deepEqual(h.legislator.received, [])
  assert.throws(() => h.kibitzer.act(() => undefined), /stopped/)
})

test('drained() waits for the rest of a flush whose persist is pending', async () => {
  const h = harness(true)
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [
    { from: 'self', to: 'a', message: accept(1) },
    { from: 'self', to: 'b', message: accepted(0) },
  ]
  h.runDeferred()
  let drained = false
  const waiting = h.kibitzer.drained().then(() => {
    drained = true
  })
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(drained, false, 'drained before the rest of the flush was sent')
  h.runDeferred()
  await Promise.race([waiting, new Promise((_, reject) => setTimeout(() => reject(new Error('drained() never resolved')), 5_000))])
  assert.ok(h.events.includes('send b accepted'))
})
