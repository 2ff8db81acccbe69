// The kibitzer's answered exchanges: a batch delivered with `exchange` is
// flushed at once and what the legislator has for its sender comes back as
// the answer (the rest is sent as usual); an answer a send resolves with is
// delivered to the legislator as if the peer had sent it, and flushed at once.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Kibitzer } from '../src/index.js'
import type { Committed, Envelope, Message } from '../src/paxos/types.js'
import { idleClock, ScriptedLegislator } from './support/scripted-legislator.js'

const ping = (n: number): Message => ({ type: 'naturalize', id: `n${n}` })
const envelope = (to: string, n: number): Envelope => ({ from: 'self', to, message: ping(n) })

function harness(
  answer: (to: string, messages: readonly Message[]) => readonly Message[] | void = () => undefined,
  coalesceAfterCommit = false,
  answerable: (message: Message) => boolean = () => true,
) {
  const legislator = new ScriptedLegislator()
  const sends: [string, readonly Message[]][] = []
  const deferred: (() => void)[] = []
  const pending: (() => void)[] = []
  const kibitzer = new Kibitzer({
    legislator,
    clock: idleClock,
    tickMs: 10,
    transport: {
      send: (to, messages) => {
        sends.push([to, messages])
        return new Promise((resolve) => pending.push(() => resolve(answer(to, messages))))
      },
    },
    onCommitted: () => {},
    onFault: (error) => {
      throw error
    },
    defer: (callback) => deferred.push(callback),
    coalesceAfterCommit,
    answerable,
  })
  const flush = (): void => {
    for (const callback of deferred.splice(0)) callback()
  }
  /** Settles every send in flight and lets their continuations run. */
  const settle = async (): Promise<void> => {
    for (const resolve of pending.splice(0)) resolve()
    await new Promise((resolve) => setImmediate(resolve))
  }
  return { legislator, kibitzer, sends, deferred, flush, settle }
}

test('an exchange flushes at once and answers with what is for its sender; the rest is sent', () => {
  const h = harness()
  h.legislator.reply = (from, message) => [envelope(from, 10), envelope('other', 20)]
  const answer = h.kibitzer.exchange('leader', [ping(1)])
  assert.deepEqual(h.legislator.received, [['leader', ping(1)]])
  assert.deepEqual(answer, [ping(10)])
  assert.equal(h.legislator.readies, 1, 'flushed within the call, no deferred flush needed')
  assert.deepEqual(h.sends, [['other', [ping(20)]]])
  assert.equal(h.kibitzer.statistics.messagesAnswered, 1)
})

test('while a send to the sender is in flight, what is queued behind it keeps its place', async () => {
  const h = harness()
  // A send to "leader" in flight: what is queued behind it keeps its place.
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [envelope('leader', 1)]
  h.flush()
  assert.equal(h.sends.length, 1)
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [envelope('leader', 2)]
  h.flush()
  h.legislator.reply = (from) => [envelope(from, 3)]
  assert.deepEqual(h.kibitzer.exchange('leader', [ping(0)]), [ping(3)])
  await h.settle()
  assert.deepEqual(
    h.sends.map(([, messages]) => messages),
    [[ping(1)], [ping(2)]],
    'the queued message left by the next send',
  )
})

test('an exchange answers with messages a committing flush held for its sender, in order, before its own', () => {
  const h = harness(() => undefined, true)
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [envelope('leader', 1)]
  h.legislator.committed = [{ position: 0, promise: '1/0', entry: { type: 'noop' }, apply: true }]
  h.flush()
  assert.equal(h.sends.length, 0, 'held for one more flush')
  h.legislator.reply = (from) => [envelope(from, 2)]
  assert.deepEqual(h.kibitzer.exchange('leader', [ping(0)]), [ping(1), ping(2)])
  h.flush()
  assert.equal(h.sends.length, 0, 'nothing left to send to the leader')
})

test('an answer a send resolves with reaches the legislator as from that peer, and is flushed at once', async () => {
  const h = harness((to) => (to === 'follower' ? [ping(7)] : undefined))
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [envelope('follower', 1)]
  h.flush()
  // What the answer leads to (a commit, say) goes out without waiting for a deferred flush.
  h.legislator.reply = () => [envelope('other', 8)]
  h.legislator.committed = [{ position: 0, promise: '1/0', entry: { type: 'noop' }, apply: true }]
  const readies = h.legislator.readies
  await h.settle()
  assert.deepEqual(h.legislator.received, [['follower', ping(7)]])
  assert.equal(h.legislator.readies, readies + 1, 'flushed as the answer arrived')
  assert.equal(h.deferred.length, 0, 'no deferred flush')
  assert.deepEqual(h.sends.at(-1), ['other', [ping(8)]])
})

test('an answer that arrives after the kibitzer stopped is not taken', async () => {
  const h = harness((to) => (to === 'follower' ? [ping(7)] : undefined))
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [envelope('follower', 1)]
  h.flush()
  h.kibitzer.stop()
  await h.settle()
  assert.deepEqual(h.legislator.received, [], 'a stopped kibitzer takes no answer')
})

test('only answerable messages go back in the answer; the others for the sender are sent', () => {
  const h = harness(() => undefined, false, (message) => message.type === 'naturalize' && message.id === 'n10')
  h.legislator.reply = (from) => [envelope(from, 10), envelope(from, 11)]
  assert.deepEqual(h.kibitzer.exchange('leader', [ping(1)]), [ping(10)])
  assert.deepEqual(h.sends, [['leader', [ping(11)]]])
})

test('an exchange on a stopped kibitzer takes nothing and answers nothing', () => {
  const h = harness()
  h.kibitzer.stop()
  assert.deepEqual(h.kibitzer.exchange('leader', [ping(1)]), [])
  assert.deepEqual(h.legislator.received, [])
})
