// The kibitzer against a scripted legislator, a manual clock and a recording
// transport: coalesced flushes, one send per peer per flush, bounded queues,
// no re-entrancy, timers cleared on stop.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Kibitzer, tickSchedule, type Driven } from '../src/index.js'
import { ManualClock } from './support/manual-clock.js'
import type { Committed, Envelope, Message, Ready } from '../src/paxos/types.js'

const ping = (n: number): Message => ({ type: 'naturalize', id: `n${n}` })

class ScriptedLegislator implements Driven {
  readonly id = 'self'
  ticks = 0
  readies = 0
  received: [string, Message][] = []
  outbox: Envelope[] = []
  committed: Committed[] = []
  onReady: (() => void) | null = null

  tick(): void {
    this.ticks++
  }

  receive(from: string, message: Message): void {
    this.received.push([from, message])
  }

  ready(): Ready {
    this.readies++
    this.onReady?.()
    const ready: Ready = { persist: { promised: null, accepted: [] }, messages: this.outbox, committed: this.committed }
    this.outbox = []
    this.committed = []
    return ready
  }
}

interface Harness {
  legislator: ScriptedLegislator
  clock: ManualClock
  kibitzer: Kibitzer<ScriptedLegislator>
  sends: [string, readonly Message[]][]
  committed: Committed[][]
  deferred: (() => void)[]
  settle: (() => void)[]
  flush(): void
}

function harness(options: { peerQueueMax?: number; sendBatchMax?: number } = {}): Harness {
  const legislator = new ScriptedLegislator()
  const clock = new ManualClock()
  const sends: [string, readonly Message[]][] = []
  const committed: Committed[][] = []
  const deferred: (() => void)[] = []
  const settle: (() => void)[] = []
  const kibitzer = new Kibitzer({
    legislator,
    clock,
    tickMs: 10,
    transport: {
      send: (to, messages) => {
        sends.push([to, messages])
        return new Promise<void>((resolve) => settle.push(resolve))
      },
    },
    onCommitted: (entries) => committed.push([...entries]),
    onFault: (error) => {
      throw error
    },
    defer: (callback) => deferred.push(callback),
    ...options,
  })
  return {
    legislator,
    clock,
    kibitzer,
    sends,
    committed,
    deferred,
    settle,
    flush: () => {
      for (const callback of deferred.splice(0)) callback()
    },
  }
}

const envelope = (to: string, n: number): Envelope => ({ from: 'self', to, message: ping(n) })

test('many inputs coalesce into one ready() and one send per peer', () => {
  const h = harness()
  h.kibitzer.receive('a', [ping(1), ping(2)])
  h.kibitzer.receive('b', [ping(3)])
  h.kibitzer.act(() => undefined)
  assert.equal(h.deferred.length, 1, 'one flush scheduled for three inputs')
  h.legislator.outbox = [envelope('a', 1), envelope('b', 2), envelope('a', 3), envelope('c', 4), envelope('a', 5)]
  h.flush()
  assert.equal(h.legislator.readies, 1)
  assert.equal(h.legislator.received.length, 3)
  assert.deepEqual(
    h.sends.map(([to, messages]) => [to, messages.length]),
    [
      ['a', 3],
      ['b', 1],
      ['c', 1],
    ],
  )
})

test('while a send is in flight, later messages wait and leave as one batch', async () => {
  const h = harness()
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [envelope('a', 1)]
  h.flush()
  for (let n = 2; n < 6; n++) {
    h.kibitzer.act(() => undefined)
    h.legislator.outbox = [envelope('a', n)]
    h.flush()
  }
  assert.equal(h.sends.length, 1, 'one send in flight per peer')
  h.settle.shift()?.()
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(h.sends.length, 2)
  assert.equal(h.sends[1]?.[1].length, 4)
})

test('a peer queue is bounded: the oldest messages are dropped', () => {
  const h = harness({ peerQueueMax: 3, sendBatchMax: 2 })
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = Array.from({ length: 8 }, (_, n) => envelope('a', n))
  h.flush()
  assert.equal(h.kibitzer.statistics.messagesDropped, 5)
  assert.deepEqual(h.sends[0]?.[1], [ping(5), ping(6)])
})

test('a full queue keeps the newest messages in order across many drops and partial sends', async () => {
  // Thousands of messages for a peer that does not answer: each new one drops
  // the oldest, and what is sent afterwards is the newest ones, oldest first.
  const h = harness({ peerQueueMax: 3000, sendBatchMax: 1100 })
  h.kibitzer.act(() => undefined)
  h.legislator.outbox = [envelope('a', -1)]
  h.flush()
  assert.equal(h.sends.length, 1, 'the first message is in flight')
  for (let round = 0; round < 5; round++) {
    h.kibitzer.act(() => undefined)
    h.legislator.outbox = Array.from({ length: 1000 }, (_, n) => envelope('a', round * 1000 + n))
    h.flush()
  }
  assert.equal(h.kibitzer.statistics.messagesDropped, 2000)
  for (let turn = 0; turn < 4 && h.settle.length > 0; turn++) {
    h.settle.shift()?.()
    await new Promise((resolve) => setImmediate(resolve))
  }
  const sent = h.sends.slice(1).flatMap(([, messages]) => messages)
  assert.deepEqual(
    h.sends.slice(1).map(([, messages]) => messages.length),
    [1100, 1100, 800],
  )
  assert.deepEqual(sent, Array.from({ length: 3000 }, (_, n) => ping(2000 + n)))
})

test('committed entries leave after ready() returned, in order', () => {
  const h = harness()
  const entry = (position: number): Committed => ({ position, promise: `1/${position}`, entry: { type: 'noop' }, apply: true })
  h.kibitzer.act(() => undefined)
  h.legislator.committed = [entry(0), entry(1)]
  h.flush()
  assert.deepEqual(h.committed, [[entry(0), entry(1)]])
})

test('calling into the legislator from inside ready() is refused', () => {
  const h = harness()
  let refused: unknown = null
  h.legislator.onReady = () => {
    try {
      h.kibitzer.act(() => undefined)
    } catch (error) {
      refused = error
    }
  }
  h.kibitzer.act(() => undefined)
  h.flush()
  assert.match(String(refused), /re-entrantly/)
})

test('ticks follow the clock and stop with the kibitzer', () => {
  const h = harness()
  h.kibitzer.start()
  h.kibitzer.start()
  h.clock.advance(100)
  assert.equal(h.legislator.ticks, 10)
  assert.equal(h.deferred.length, 0, 'a tick flushes at once, with no deferral')
  assert.equal(h.kibitzer.statistics.flushes, 10, 'one flush a tick')
  h.kibitzer.stop()
  assert.equal(h.clock.pending, 0, 'timers cleared')
  h.clock.advance(100)
  assert.equal(h.legislator.ticks, 10)
  assert.throws(() => h.kibitzer.act(() => undefined), /stopped/)
})

test('a legislator that throws stops the kibitzer and is reported once', () => {
  const faults: unknown[] = []
  const legislator = new ScriptedLegislator()
  legislator.receive = () => {
    throw new Error('assertion failed')
  }
  const clock = new ManualClock()
  const kibitzer = new Kibitzer({
    legislator,
    clock,
    tickMs: 10,
    transport: { send: async () => {} },
    onCommitted: () => {},
    onFault: (error) => faults.push(error),
    defer: () => {},
  })
  kibitzer.start()
  kibitzer.receive('a', [ping(1), ping(2)])
  assert.equal(faults.length, 1)
  assert.equal(clock.pending, 0)
})

test('tickSchedule maps milliseconds onto ticks', () => {
  assert.deepEqual(tickSchedule(250, 1000), { tickMs: 50, pingTicks: 5, timeoutTicks: 20 })
  assert.deepEqual(tickSchedule(50, 250), { tickMs: 10, pingTicks: 5, timeoutTicks: 25 })
  assert.deepEqual(tickSchedule(3, 4), { tickMs: 1, pingTicks: 3, timeoutTicks: 4 })
  assert.throws(() => tickSchedule(100, 100), RangeError)
  assert.throws(() => tickSchedule(0, 100), RangeError)
})

test('a command the legislator throws on stops the kibitzer, reports the fault and rethrows', () => {
  const faults: unknown[] = []
  const clock = new ManualClock()
  const kibitzer = new Kibitzer({
    legislator: new ScriptedLegislator(),
    clock,
    tickMs: 10,
    transport: { send: async () => {} },
    onCommitted: () => {},
    onFault: (error) => faults.push(error),
    defer: () => {},
  })
  kibitzer.start()
  assert.throws(() =>
    kibitzer.act(() => {
      throw new Error('assertion failed')
    }),
  /assertion failed/)
  assert.equal(faults.length, 1)
  assert.equal(clock.pending, 0)
})
