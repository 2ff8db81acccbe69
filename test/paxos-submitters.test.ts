import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Legislator } from '../src/paxos/legislator.js'
import { SUBMITTER_ABOVE_MAX, SubmitterLedger } from '../src/paxos/submitters.js'
import type { Envelope } from '../src/paxos/types.js'

test('the ledger never declares a gap applied, however many seqs are applied above it', () => {
  const ledger = new SubmitterLedger()
  for (let seq = 2; seq <= SUBMITTER_ABOVE_MAX + 10; seq++) assert.equal(ledger.record('a', seq), true)
  assert.equal(ledger.applied('a', 1), false, 'seq 1 was never applied')
  const copy = SubmitterLedger.fromTable(ledger.toTable())
  assert.equal(copy.applied('a', 1), false, 'nor in the table a newcomer starts from')
  assert.equal(ledger.record('a', 1), true, 'seq 1 applies when it comes')
  assert.deepEqual(ledger.toTable(), { a: [SUBMITTER_ABOVE_MAX + 10] })
})

test('the ledger admits seqs up to SUBMITTER_ABOVE_MAX past the watermark', () => {
  const ledger = new SubmitterLedger()
  assert.equal(ledger.admits('a', SUBMITTER_ABOVE_MAX), true)
  assert.equal(ledger.admits('a', SUBMITTER_ABOVE_MAX + 1), false)
  ledger.record('a', 1)
  assert.equal(ledger.admits('a', SUBMITTER_ABOVE_MAX + 1), true)
})

test('a floor settles every seq below it: the gaps a restarted submitter left stop holding up its later seqs', () => {
  const ledger = new SubmitterLedger()
  ledger.record('a', 1)
  ledger.record('a', 3)
  // Restarted from its storage, `a` reserved up to 2000 before; its seqs now start above that.
  const floor = 2000
  assert.equal(ledger.admits('a', floor + SUBMITTER_ABOVE_MAX), false, 'past the window of the old watermark')
  assert.equal(ledger.admits('a', floor + SUBMITTER_ABOVE_MAX, floor), true, 'within the window of the floor')
  assert.equal(ledger.record('a', floor + 1, floor), true)
  assert.deepEqual(ledger.toTable(), { a: [floor + 1] })
  assert.equal(ledger.record('a', 2), false, 'a seq of the earlier process that comes later is not applied')
  assert.equal(ledger.record('b', 5, 0), true, 'no floor, no change')
  assert.deepEqual(ledger.toTable()['b'], [0, 5])
})

/** Two legislators wired by hand, so the test decides when each message arrives. */
class Pair {
  readonly members: Map<string, Legislator>
  /** Per member: `from#seq` of each value applied, in order. */
  readonly applied = new Map<string, string[]>([['a', []], ['b', []]])

  constructor(options: { leaderPendingMax: number }) {
    const random = (seed: number) => () => (seed = (seed * 48271) % 2147483647) / 2147483647
    const common = { timeoutTicks: 5, exileTicks: 1_000_000 }
    this.members = new Map([
      ['a', new Legislator({ id: 'a', random: random(11), pendingMax: options.leaderPendingMax, ...common })],
      ['b', new Legislator({ id: 'b', random: random(23), pendingMax: 20_000, ...common })],
    ])
  }

  get(id: string): Legislator {
    return this.members.get(id) as Legislator
  }

  /** Collects one member's output: its messages to deliver, its applied values recorded. */
  drain(id: string): Envelope[] {
    const ready = this.get(id).ready()
    for (const committed of ready.committed) {
      if (committed.entry.type === 'value' && committed.apply) {
        const { from, seq } = committed.entry.submission
        this.applied.get(id)?.push(`${from}#${seq}`)
      }
    }
    return [...ready.messages]
  }

  /** Delivers messages until none are left, without ticking: no timeout passes. */
  pump(pending: Envelope[] = []): void {
    const queue = [...pending]
    for (let round = 0; round < 100_000; round++) {
      for (const id of this.members.keys()) queue.push(...this.drain(id))
      if (queue.length === 0) return
      for (const envelope of queue.splice(0)) this.get(envelope.to).receive(envelope.from, envelope.message)
    }
    throw new Error('the pair did not go quiet')
  }

  /** Lets `ticks` ticks pass on both members, delivering everything after each. */
  tick(ticks: number): void {
    for (let index = 0; index < ticks; index++) {
      for (const legislator of this.members.values()) legislator.tick()
      this.pump()
    }
  }
}

test('a value whose forward a full leader queue dropped is applied, after more than SUBMITTER_ABOVE_MAX later ones', () => {
  const pair = new Pair({ leaderPendingMax: 64 })
  const [a, b] = [pair.get('a'), pair.get('b')]
  a.bootstrap('island', { location: 'a' })
  pair.pump()
  assert.equal(a.immigrate('b', { location: 'b' }), null)
  pair.tick(3)
  assert.ok(b.government !== null, 'b admitted')
  b.naturalize()
  pair.tick(3)

  // b#1 reaches the leader while its queue is full of the leader's own values: dropped there, pending at b.
  assert.equal(b.enqueue('first').ok, true)
  const forward = pair.drain('b')
  assert.ok(forward.some((envelope) => envelope.message.type === 'forward'))
  for (let index = 0; index < 64; index++) assert.equal(a.enqueue(`a${index}`).ok, true)
  for (const envelope of forward) a.receive(envelope.from, envelope.message)
  pair.pump()
  assert.equal(b.pending, 1, 'b#1 is still pending at its submitter')

  // Within one timeout, far more than SUBMITTER_ABOVE_MAX later values from b.
  const later = SUBMITTER_ABOVE_MAX + 200
  for (let index = 0; index < later; index++) {
    assert.equal(b.enqueue(index).ok, true)
    if (index % 32 === 31) pair.pump()
  }
  pair.pump()
  assert.ok(!pair.applied.get('a')?.includes('b#1'), 'b#1 not applied yet')

  // b forwards what is still pending every timeout; everything it enqueued applies, once, on both.
  for (let round = 0; round < 1_000 && b.pending > 0; round++) pair.tick(1)
  assert.equal(b.pending, 0, 'every value b enqueued was applied')
  const expected = Array.from({ length: later + 1 }, (_, index) => `b#${index + 1}`).sort()
  for (const id of ['a', 'b']) {
    const fromB = (pair.applied.get(id) ?? []).filter((key) => key.startsWith('b#'))
    assert.deepEqual([...fromB].sort(), expected, `values from b applied on ${id}`)
  }
  assert.deepEqual(pair.applied.get('a'), pair.applied.get('b'))
})
