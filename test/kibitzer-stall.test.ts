// One send to a peer is in flight at a time, and what comes meanwhile waits
// for the next batch; but a send still out after `sendStallMs` (a lost request
// or answer) no longer holds the next one back, up to SENDS_IN_FLIGHT_MAX.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Kibitzer, type Clock, type Driven } from '../src/index.js'
import { SENDS_IN_FLIGHT_MAX } from '../src/kibitzer/kibitzer.js'
import type { Envelope, Message, Ready } from '../src/paxos/types.js'

const ping = (n: number): Message => ({ type: 'naturalize', id: `n${n}` })

class Outbox implements Driven {
  readonly id = 'self'
  outbox: Envelope[] = []
  tick(): void {}
  receive(): void {}
  ready(): Ready {
    const ready: Ready = { persist: { promised: null, accepted: [] }, messages: this.outbox, committed: [] }
    this.outbox = []
    return ready
  }
}

function harness(sendStallMs: number | undefined) {
  let now = 0
  let tick: (() => void) | null = null
  const clock: Clock = {
    now: () => now,
    setInterval: (callback) => {
      tick = callback
      return 1
    },
    clearInterval: () => {},
    setTimeout: () => 0,
    clearTimeout: () => {},
  }
  const legislator = new Outbox()
  const sends: Message[][] = []
  const deferred: (() => void)[] = []
  const kibitzer = new Kibitzer({
    legislator,
    clock,
    tickMs: 10,
    // Every send hangs, as one whose request or answer was lost does until its timeout.
    transport: { send: (_to, messages) => (sends.push([...messages]), new Promise(() => {})) },
    onCommitted: () => {},
    onFault: (error) => {
      throw error
    },
    defer: (callback) => deferred.push(callback),
    ...(sendStallMs !== undefined && { sendStallMs }),
  })
  kibitzer.start()
  /** Queues `message` for peer "p" and flushes. */
  const post = (message: Message): void => {
    kibitzer.act(() => undefined)
    legislator.outbox = [{ from: 'self', to: 'p', message }]
    for (const callback of deferred.splice(0)) callback()
  }
  const advance = (ms: number): void => {
    now += ms
    ;(tick as unknown as () => void)()
    for (const callback of deferred.splice(0)) callback()
  }
  return { sends, post, advance }
}

test('without sendStallMs a hung send holds every later message for that peer', () => {
  const h = harness(undefined)
  h.post(ping(1))
  h.post(ping(2))
  h.advance(10_000)
  assert.deepEqual(h.sends, [[ping(1)]])
})

test('a send out for sendStallMs lets the next batch go beside it, up to the limit', () => {
  const h = harness(100)
  h.post(ping(1))
  h.post(ping(2))
  h.post(ping(3))
  assert.deepEqual(h.sends, [[ping(1)]], 'batched behind the send in flight')
  h.advance(50)
  assert.equal(h.sends.length, 1, 'not stalled yet')
  h.advance(50)
  assert.deepEqual(h.sends, [[ping(1)], [ping(2), ping(3)]], 'the stalled send no longer holds the rest back')
  for (let n = 4; n < 20; n++) {
    h.post(ping(n))
    h.advance(100)
  }
  assert.equal(h.sends.length, SENDS_IN_FLIGHT_MAX, 'never more than the limit in flight')
})
