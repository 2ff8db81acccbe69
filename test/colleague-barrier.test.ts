// barrier(), promoted() and ID_IN_USE on an in-process island over loopback HTTP.

import { strict as assert } from 'node:assert'
import { test } from 'node:test'
import { ColleagueError } from '../src/index.js'
import { startIsland, startMember, stopAll, waitFor, type Member } from './colleague-island.js'

test('barrier() on a follower: every value committed before the call is applied there, and the application never sees the barrier', { timeout: 60_000 }, async () => {
  const members = await startIsland(3, 'barrier')
  try {
    const [leader, follower] = members as [Member, Member, Member]
    const enqueued: number[] = []
    let last = -1
    for (let index = 0; index < 50; index++) {
      last = (await leader.colleague.enqueue(index)).position
      enqueued.push(index)
    }
    const barrier = await follower.colleague.barrier()
    assert.ok(barrier.position > last, `the barrier (${barrier.position}) is after the last value (${last})`)
    assert.ok(follower.colleague.health().positions.applied >= barrier.position)
    assert.deepEqual(follower.app.values, enqueued, 'the follower applied every value, and no barrier')
    // On the leader too, and applied everywhere without reaching an application.
    await leader.colleague.barrier()
    await waitFor(() => members.every((member) => member.colleague.health().positions.applied >= barrier.position), 20_000, 'all applied')
    for (const member of members) assert.deepEqual(member.app.values, enqueued)
  } finally {
    await stopAll(members)
  }
})

test('barrier() before joining rejects NOT_JOINED; after shutdown SHUT_DOWN', { timeout: 30_000 }, async () => {
  const member = await startMember('barrier-idle')
  try {
    await assert.rejects(member.colleague.barrier(), { code: 'NOT_JOINED' })
  } finally {
    await member.colleague.shutdown()
  }
  await assert.rejects(member.colleague.barrier(), { code: 'SHUT_DOWN' })
})

test('promoted() resolves once the newcomer votes; with a full parliament it waits, and shutdown rejects it', { timeout: 60_000 }, async () => {
  // A parliament is odd: the third member makes room for two more voters.
  const members = await startIsland(2, 'promoted')
  const full = await startIsland(1, 'promoted-full', { parliamentSize: 1 })
  const extra: Member[] = []
  try {
    const newcomer = await startMember('promoted', { colleagueId: 'n1' })
    extra.push(newcomer)
    await newcomer.colleague.join((members[0] as Member).url)
    await newcomer.colleague.promoted()
    const government = newcomer.colleague.health().government
    assert.ok(government !== null && [...government.majority, ...government.minority].includes('n1'))
    await newcomer.colleague.promoted() // already: at once

    const constituent = await startMember('promoted-full', { colleagueId: 'c1' })
    extra.push(constituent)
    await constituent.colleague.join((full[0] as Member).url)
    const waiting = constituent.colleague.promoted()
    let settled = false
    void waiting.then(() => (settled = true), () => (settled = true))
    await constituent.colleague.barrier() // a round trip through the log: still a constituent
    assert.equal(settled, false)
    // A signal bounds the wait: its abort rejects with its reason, and the other wait goes on.
    const controller = new AbortController()
    const bounded = constituent.colleague.promoted({ signal: controller.signal })
    const reason = new Error('no room in the parliament')
    controller.abort(reason)
    await assert.rejects(bounded, (error) => error === reason)
    await assert.rejects(constituent.colleague.promoted({ signal: AbortSignal.abort() }), { name: 'AbortError' })
    await assert.rejects(newcomer.colleague.promoted({ signal: AbortSignal.abort() }), { name: 'AbortError' }, 'aborted before the call: at once, promoted or not')
    await assert.rejects(constituent.colleague.promoted({ timeoutMs: 5 } as never), { code: 'INVALID_OPTIONS' })
    assert.equal(settled, false)
    await constituent.colleague.shutdown()
    await assert.rejects(waiting, { code: 'SHUT_DOWN' })
  } finally {
    await stopAll([...members, ...full, ...extra])
  }
})

test('joining with the colleagueId of a living member fails with ID_IN_USE, not a join timeout', { timeout: 60_000 }, async () => {
  const members = await startIsland(2, 'id-in-use')
  const impostor = await startMember('id-in-use', { colleagueId: 'm1' })
  try {
    const failure = await impostor.colleague.join((members[0] as Member).url).then(
      () => null,
      (error: unknown) => error,
    )
    assert.ok(failure instanceof ColleagueError, String(failure))
    assert.equal(failure.code, 'ID_IN_USE')
    assert.equal(failure.status, 409)
    assert.equal(impostor.colleague.health().state, 'idle', 'the colleague stays idle and may try again')
    // The real m1 is untouched.
    const government = (members[0] as Member).colleague.health().government
    assert.equal(government?.properties['m1']?.['location'], (members[1] as Member).url)
    await (members[1] as Member).colleague.enqueue('still here')
  } finally {
    await stopAll([...members, impostor])
  }
})
