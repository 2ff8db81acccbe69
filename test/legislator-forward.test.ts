// Submissions forwarded to a member that does not lead: dropped there, never
// passed on (two members that each think the other leads would bounce them),
// and sent again by their submitter to the leader it hears.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { IDLE, Legislator } from '../src/paxos/legislator.js'
import type { Committed } from '../src/paxos/types.js'

const TIMEOUT_TICKS = 5
const PUMP_ROUNDS_MAX = 200

class Island {
  readonly members = new Map<string, Legislator>()
  readonly applied = new Map<string, string[]>()

  add(id: string): Legislator {
    const legislator = new Legislator({ id, random: () => 0.5, timeoutTicks: TIMEOUT_TICKS })
    this.members.set(id, legislator)
    this.applied.set(id, [])
    return legislator
  }

  /** Delivers every message until none is left; bounded. */
  pump(): void {
    for (let round = 0; round < PUMP_ROUNDS_MAX; round++) {
      let sent = 0
      for (const [id, legislator] of this.members) {
        const ready = legislator.ready()
        this.#record(id, ready.committed)
        for (const { from, to, message } of ready.messages) {
          sent++
          this.members.get(to)?.receive(from, message)
        }
      }
      if (sent === 0) return
    }
    assert.fail(`the island did not settle within ${PUMP_ROUNDS_MAX} rounds`)
  }

  tick(times: number): void {
    for (let tick = 0; tick < times; tick++) {
      for (const legislator of this.members.values()) legislator.tick()
      this.pump()
    }
  }

  #record(id: string, committed: readonly Committed[]): void {
    for (const { entry, apply } of committed) {
      if (entry.type === 'value' && apply) this.applied.get(id)?.push(String(entry.submission.value))
    }
  }
}

function threeMembers(): Island {
  const island = new Island()
  const a = island.add('a')
  a.bootstrap('island', {})
  for (const id of ['b', 'c']) {
    island.add(id)
    assert.equal(a.immigrate(id, {}), null)
    island.pump()
  }
  for (const id of ['a', 'b', 'c']) assert.equal(island.members.get(id)?.role, id === 'a' ? 'leader' : 'follower')
  return island
}

test('a forward that reaches a member that does not lead is dropped, and its submitter sends it again to the leader', () => {
  const island = threeMembers()
  const b = island.members.get('b') as Legislator
  const c = island.members.get('c') as Legislator
  assert.equal(c.enqueue('x').ok, true)
  // The forward goes astray: it reaches b, which does not lead.
  const [forward] = c.ready().messages
  assert.equal(forward?.message.type, 'forward')
  b.receive('c', forward?.message as NonNullable<typeof forward>['message'])
  assert.deepEqual(b.ready().messages, [], 'b passes nothing on')
  island.pump()
  assert.equal(c.pending, 1, 'nobody proposed it')
  island.tick(TIMEOUT_TICKS)
  assert.equal(c.pending, 0)
  for (const id of ['a', 'b', 'c']) assert.deepEqual(island.applied.get(id), ['x'], `${id} applied it once`)
})

test('ready() with nothing to persist, send or apply is the one frozen IDLE; with work, a Ready of its own', () => {
  const island = threeMembers()
  const a = island.members.get('a') as Legislator
  const c = island.members.get('c') as Legislator
  assert.equal(a.ready(), IDLE, 'a settled island: the leader has nothing to do')
  assert.equal(c.ready(), IDLE, 'nor has a follower')
  assert.ok(Object.isFrozen(IDLE) && Object.isFrozen(IDLE.messages) && Object.isFrozen(IDLE.committed) && Object.isFrozen(IDLE.persist.accepted))
  assert.equal(c.enqueue('x').ok, true)
  const ready = c.ready()
  assert.notEqual(ready, IDLE)
  assert.equal(ready.messages[0]?.message.type, 'forward')
  assert.equal(c.ready(), IDLE, 'taken once')
  island.members.get('a')?.receive('c', ready.messages[0]?.message as NonNullable<(typeof ready.messages)[0]>['message'])
  const proposed = a.ready()
  assert.notEqual(proposed, IDLE)
  assert.ok(proposed.persist.accepted.length > 0, 'the leader accepts what it proposes')
  for (const { from, to, message } of proposed.messages) island.members.get(to)?.receive(from, message)
  island.pump()
  for (const id of ['b', 'c']) assert.deepEqual(island.applied.get(id), ['x'], id)
  assert.equal(a.ready(), IDLE, 'settled again')
})
