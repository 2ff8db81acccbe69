// One members limit: a leader admits no one past MEMBERS_MAX, even when
// several newcomers asked while the island was still below it, and a peer
// ignores a government that names more.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MEMBERS_MAX, bootstrapGovernment, membersOf, nextGovernment } from '../src/paxos/government.js'
import { isMessage } from '../src/paxos/validate.js'
import type { Government } from '../src/paxos/types.js'

function islandOf(size: number): Government {
  const founder = bootstrapGovernment('island', 'm0', {})
  const constituents = Array.from({ length: size - 1 }, (_, index) => `m${index + 1}`)
  return { ...founder, constituents, arrived: Object.fromEntries(['m0', ...constituents].map((id) => [id, '1/0'])) }
}

test(`a leader admits newcomers only up to ${MEMBERS_MAX} members`, () => {
  const current = islandOf(MEMBERS_MAX - 1)
  const immigrate = new Map([['n1', {}], ['n2', {}], ['n3', {}]])
  const next = nextGovernment(current, {
    leader: 'm0',
    parliamentSize: 5,
    live: new Set(['m0']),
    immigrate,
    naturalize: new Set(),
    exile: new Set(),
    submitters: {},
  })
  assert.equal(membersOf(next).length, MEMBERS_MAX)
  assert.ok(membersOf(next).includes('n1'))
  assert.ok(!membersOf(next).includes('n2'))
})

test(`a peer ignores a government naming more than ${MEMBERS_MAX} members`, () => {
  const accept = (government: Government): unknown => ({
    type: 'accept',
    ballot: { round: 1, id: 'm0' },
    entries: [{ position: 1, ballot: { round: 1, id: 'm0' }, entry: { type: 'government', government } }],
    chosen: [],
    commit: 0,
    trim: 0,
  })
  assert.equal(isMessage(accept(islandOf(MEMBERS_MAX))), true)
  assert.equal(isMessage(accept(islandOf(MEMBERS_MAX + 1))), false)
})
