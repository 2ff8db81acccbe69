// What a member restarted from its storage needs of the replicated state: the
// places of members exiled before its snapshot (so it can tell one that comes
// back that it was exiled), and a floor on its own seqs (so the seqs its
// earlier processes reserved and never used hold up nothing).

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { bootstrapGovernment, nextGovernment } from '../src/paxos/government.js'
import { Legislator } from '../src/paxos/legislator.js'
import type { Government, LegislatorRestore } from '../src/paxos/types.js'

const change = { leader: 'a', parliamentSize: 3, live: new Set(['a']), naturalize: new Set<string>(), submitters: {} }

/** a leads; b, then exiled; then one more government without change. */
function governments(): Government[] {
  const founded = bootstrapGovernment('island', 'a', { location: 'http://a' })
  const admitted = nextGovernment(founded, { ...change, immigrate: new Map([['b', { location: 'http://b' }]]), exile: new Set() })
  const exiled = nextGovernment(admitted, { ...change, immigrate: new Map(), exile: new Set(['b']) })
  const later = nextGovernment(exiled, { ...change, immigrate: new Map(), exile: new Set() })
  return [founded, admitted, exiled, later]
}

function restored(government: Government, seq: number, id = 'a'): Legislator {
  const restore: LegislatorRestore = {
    promised: { round: 1, id: 'a' },
    position: government.number - 1,
    government,
    governmentPosition: government.number - 1,
    submitters: {},
    arrival: null,
    accepted: [],
    commit: government.number - 1,
    seq,
  }
  return new Legislator({ id, random: () => 0.5, restore })
}

test('a government remembers where its remembered exiles are, so a member restarted after the exile can reach one', () => {
  const later = governments()[3] as Government
  assert.deepEqual(later.exiled, ['b'])
  assert.deepEqual(later.properties['b'], { location: 'http://b' })
  assert.deepEqual(restored(later, 0).properties('b'), { location: 'http://b' })
})

test('a member restarted from its storage tells the exile that comes back, whatever it sends', () => {
  const legislator = restored(governments()[3] as Government, 0)
  legislator.ready()
  legislator.receive('b', { type: 'forward', submissions: [] })
  const sent = legislator.ready().messages
  assert.ok(
    sent.some((envelope) => envelope.to === 'b' && envelope.message.type === 'reject' && envelope.message.reason === 'exiled'),
    `the exile is told: ${JSON.stringify(sent)}`,
  )
  // The transport sends to the location the legislator knows.
  assert.deepEqual(legislator.properties('b'), { location: 'http://b' })
})

test('a member restarted from its storage marks its submissions with the floor of the seqs its earlier processes held', () => {
  // b, restarted, forwards to the leader a.
  const legislator = restored(governments()[1] as Government, 2048, 'b')
  legislator.ready()
  const result = legislator.enqueue('value')
  assert.ok(result.ok)
  assert.equal(result.seq, 2049)
  const forwarded = legislator.ready().messages.flatMap((envelope) => (envelope.message.type === 'forward' ? envelope.message.submissions : []))
  assert.deepEqual(forwarded, [{ from: 'b', seq: 2049, value: 'value', floor: 2048 }])
  // A member never restarted carries no floor.
  const fresh = new Legislator({ id: 'a', random: () => 0.5 })
  fresh.bootstrap('island', { location: 'http://a' })
  fresh.ready()
  assert.ok(fresh.enqueue('value').ok)
  const proposed = fresh.ready().persist.accepted.flatMap((item) => (item.entry.type === 'value' ? [item.entry.submission] : []))
  assert.deepEqual(proposed, [{ from: 'a', seq: 1, value: 'value' }])
})
