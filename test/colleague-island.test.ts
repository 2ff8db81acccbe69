import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startIsland, startMember, stopAll, waitFor, type Member } from './colleague-island.js'

const VALUES = 1000

test('three colleagues apply 1,000 values enqueued from all three in one order', { timeout: 60_000 }, async () => {
  const members = await startIsland(3, 'order')
  try {
    const enqueues: Promise<unknown>[] = []
    for (let index = 0; index < VALUES; index++) {
      const member = members[index % 3] as Member
      enqueues.push(member.colleague.enqueue({ index, from: member.colleague.colleagueId }))
    }
    await Promise.all(enqueues)
    await waitFor(() => members.every((member) => member.app.values.length === VALUES), 20_000, 'every member applied')
    const [first, ...rest] = members as [Member, ...Member[]]
    for (const member of rest) assert.deepEqual(member.app.values, first.app.values)
    assert.equal(new Set(first.app.values.map((value) => JSON.stringify(value))).size, VALUES)
    for (const member of members) assert.equal(member.colleague.health().naturalized, true)
  } finally {
    await stopAll(members)
  }
})

test('a fourth colleague joins and gets the state out of band', { timeout: 60_000 }, async () => {
  const members = await startIsland(3, 'oob')
  const extra: Member[] = []
  try {
    for (let index = 0; index < 50; index++) await (members[index % 3] as Member).colleague.enqueue(index)
    const fourth = await startMember('oob', { colleagueId: 'm3' })
    extra.push(fourth)
    await fourth.colleague.join((members[1] as Member).url)
    assert.equal(fourth.colleague.naturalized(), true)
    assert.ok(fourth.app.restored !== undefined, 'restored from a snapshot')
    for (let index = 50; index < 80; index++) await fourth.colleague.enqueue(index)
    await waitFor(() => [...members, fourth].every((member) => member.app.values.length === 80), 20_000, 'all applied')
    for (const member of members) assert.deepEqual(fourth.app.values, member.app.values)
  } finally {
    await stopAll([...members, ...extra])
  }
})

test('the leader is shut down and writes continue', { timeout: 60_000 }, async () => {
  const members = await startIsland(3, 'failover')
  try {
    for (let index = 0; index < 20; index++) await (members[index % 3] as Member).colleague.enqueue(index)
    const leaderId = members[0]?.colleague.health().leader
    const leader = members.find((member) => member.colleague.colleagueId === leaderId) as Member
    await leader.colleague.shutdown()
    await assert.rejects(leader.colleague.enqueue('late'), { code: 'SHUT_DOWN' })
    const survivors = members.filter((member) => member !== leader)
    for (let index = 20; index < 40; index++) await (survivors[index % 2] as Member).colleague.enqueue(index)
    await waitFor(() => survivors.every((member) => member.app.values.length === 40), 20_000, 'survivors applied')
    assert.deepEqual(survivors[0]?.app.values, survivors[1]?.app.values)
    const newLeader = survivors[0]?.colleague.health().leader
    assert.notEqual(newLeader, leaderId)
  } finally {
    await stopAll(members)
  }
})
