// A member that leaves is out once the government without it is chosen. The
// leader that applies that government tells it at once: it sends the member
// no ping any more, and the member would otherwise learn it only when it
// asks to leave again, a ping later.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Legislator } from '../src/paxos/legislator.js'
import { OLD, parliamentOfThree, restored } from './support/legislators.js'

const TICKS_MAX = 100
const ROUNDS_MAX = 100

/** Carries what the legislators send each other, without a tick, until all are quiet; returns the rounds it took. */
function pump(members: ReadonlyMap<string, Legislator>): number {
  for (let round = 0; round < ROUNDS_MAX; round++) {
    let sent = 0
    for (const member of members.values()) {
      for (const { from, to, message } of member.ready().messages) {
        sent++
        members.get(to)?.receive(from, message)
      }
    }
    if (sent === 0) return round
  }
  return assert.fail(`still sending after ${ROUNDS_MAX} rounds`)
}

function electedIsland(): Map<string, Legislator> {
  const government = parliamentOfThree()
  const members = new Map<string, Legislator>()
  for (const id of ['a', 'b', 'c']) members.set(id, restored(id, { promised: OLD, position: 3, government, governmentPosition: 3, accepted: [], commit: 3 }))
  const a = members.get('a') as Legislator
  for (let ticks = 0; a.role !== 'leader' && ticks < TICKS_MAX; ticks++) {
    a.tick()
    pump(members)
  }
  assert.equal(a.role, 'leader')
  return members
}

for (const leaving of ['b', 'c']) {
  test(`${leaving === 'b' ? 'the majority follower' : 'the minority'} that asks to leave hears it is out as soon as the government without it is chosen`, () => {
    const members = electedIsland()
    const member = members.get(leaving) as Legislator
    assert.equal(member.leave(), null)
    pump(members)
    assert.equal(member.role, 'exiled', `${leaving} learned it is out without another tick`)
    const a = members.get('a') as Legislator
    assert.ok(a.government?.exiled.includes(leaving), `a's government exiles ${leaving}`)
  })
}
