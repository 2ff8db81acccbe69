import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Colleague, type ColleagueError } from '../src/index.js'
import { settle, startIsland, startMember, stopAll, waitFor, type Member } from './colleague-island.js'

// The election timeout is far longer than any wait below: whatever leadership
// changes here cannot come from an election timeout running out, only from
// the leader handing on.
const NO_ELECTION = { timeoutMs: 600_000 } as const

function leaderOf(members: readonly Member[]): Member {
  const leader = members.find((member) => member.colleague.health().leader === member.colleague.colleagueId)
  assert.ok(leader !== undefined, 'the island has a leader')
  return leader
}

/** A member of `members` that does not lead. */
function followerOf(members: readonly Member[]): Member {
  const leader = leaderOf(members)
  return members.find((member) => member !== leader) as Member
}

/** `promise` or a failure after `ms`: a bound so a broken leave fails the test instead of hanging it. */
function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)
  })
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer))
}

test('the leader leaves: it hands on at once, writes resume on the others, and it is exiled', { timeout: 90_000 }, async () => {
  const members = await startIsland(3, 'leave-leader', NO_ELECTION)
  try {
    await settle(members)
    const leaving = leaderOf(members)
    const others = members.filter((member) => member !== leaving)
    await (others[0] as Member).colleague.enqueue('before')
    const leftId = leaving.colleague.colleagueId
    await bounded(leaving.colleague.leave(), 30_000, 'leave()')
    assert.equal(leaving.colleague.health().state, 'shut-down')
    // Writes from the others resume under the successor.
    for (const member of others) await bounded(member.colleague.enqueue(`after ${member.colleague.colleagueId}`), 30_000, 'a write after the leave')
    await waitFor(() => others.every((member) => member.app.values.length === 3), 20_000, 'the others to apply every write')
    for (const member of others) {
      const health = member.colleague.health()
      assert.ok(health.government?.exiled.includes(leftId), 'the government exiles the member that left')
      assert.notEqual(health.leader, leftId)
      assert.ok(health.leader !== null && others.some((other) => other.colleague.colleagueId === health.leader))
    }
    // Calls after leaving are refused with a typed error.
    await assert.rejects(leaving.colleague.enqueue('late'), (error: ColleagueError) => error.code === 'SHUT_DOWN')
    await assert.rejects(leaving.colleague.leave(), (error: ColleagueError) => error.code === 'SHUT_DOWN')
  } finally {
    await stopAll(members)
  }
})

test('a durable leader leaves: it learns at once that it is out (the first of its successor government tells it, and it asks), and shuts down', { timeout: 90_000 }, async () => {
  // A durable exile answers as an acceptor until a member that applied the
  // government exiling it says so (its own record of that government may be
  // the last one). No election timeout runs out here: only the successor can
  // tell the leader that left (when it applies the government), or answer it when it asks.
  const root = mkdtempSync(join(tmpdir(), 'paxos-leave-'))
  const members: Member[] = []
  try {
    for (let index = 0; index < 3; index++) {
      const storage = { directory: join(root, `m${index}`) }
      const member = await startMember('leave-durable', { ...NO_ELECTION, colleagueId: `m${index}`, storage })
      members.push(member)
      if (index === 0) await member.colleague.bootstrap()
      else await member.colleague.join((members[0] as Member).url)
    }
    await settle(members)
    const leaving = leaderOf(members)
    const others = members.filter((member) => member !== leaving)
    await bounded(leaving.colleague.leave(), 30_000, 'leave()')
    assert.equal(leaving.colleague.health().state, 'shut-down')
    for (const member of others) await bounded(member.colleague.enqueue(`after ${member.colleague.colleagueId}`), 30_000, 'a write after the leave')
    // Gone for good: its directory no longer holds a member, so a start on it is a newcomer's, not a resumption.
    const again = new Colleague({
      islandName: 'leave-durable',
      colleagueId: leaving.colleague.colleagueId,
      location: leaving.url,
      storage: { directory: join(root, leaving.colleague.colleagueId) },
      application: { entry: () => {}, snapshot: () => null, restore: () => {} },
    })
    assert.equal(again.recovered, false)
    await again.shutdown()
  } finally {
    await stopAll(members)
    rmSync(root, { recursive: true, force: true })
  }
})

test('a follower leaves: the leader exiles it and the island goes on', { timeout: 90_000 }, async () => {
  // Default timing: the leaving member asks again every timeout until the leader exiles it.
  const members = await startIsland(3, 'leave-follower')
  try {
    await settle(members)
    const leaving = followerOf(members)
    const stays = members.filter((member) => member !== leaving)
    const leftId = leaving.colleague.colleagueId
    await bounded(leaving.colleague.leave(), 30_000, 'leave()')
    assert.equal(leaving.colleague.health().state, 'shut-down')
    await waitFor(() => stays.every((member) => member.colleague.health().government?.exiled.includes(leftId)), 20_000, 'the others to apply its exile')
    for (const member of stays) await bounded(member.colleague.enqueue(`after ${member.colleague.colleagueId}`), 30_000, 'a write after the leave')
    for (const member of stays) {
      const government = member.colleague.health().government
      assert.ok(government !== null && government !== undefined)
      assert.equal([...government.majority, ...government.minority, ...government.constituents].includes(leftId), false)
    }
  } finally {
    await stopAll(members)
  }
})

for (const size of [2, 3]) {
  test(`all ${size} members leave at once: each leave() resolves, the one the others left alone shutting down as the last member does`, { timeout: 90_000 }, async () => {
    const members = await startIsland(size, `leave-all-${size}`)
    try {
      await settle(members)
      await (members[0] as Member).colleague.enqueue('before')
      const leaves = members.map((member) => bounded(member.colleague.leave(), 30_000, `${member.colleague.colleagueId}'s leave()`))
      await Promise.all(leaves)
      for (const member of members) assert.equal(member.colleague.health().state, 'shut-down', `${member.colleague.colleagueId} shut down`)
    } finally {
      await stopAll(members)
    }
  })
}

test('members that all leave at once while their applying lags more than a timeout behind still each leave', { timeout: 90_000 }, async () => {
  const build = (colleagueId: string): Colleague =>
    new Colleague({
      islandName: 'leave-lagging',
      colleagueId,
      host: '127.0.0.1',
      port: 0,
      pingMs: 100,
      timeoutMs: 1_000,
      application: {
        // Each entry takes 300 ms: ten of them keep applying three timeouts behind what is chosen.
        entry: () => new Promise((resolve) => setTimeout(resolve, 300)),
        snapshot: () => null,
        restore: () => {},
      },
    })
  const first = build('a')
  const second = build('b')
  try {
    const { url } = await first.listen()
    await first.bootstrap()
    await second.listen()
    await second.join(url)
    for (let index = 0; index < 10; index++) first.enqueue(`v${index}`).catch(() => {})
    await new Promise((resolve) => setTimeout(resolve, 100))
    await bounded(Promise.all([first.leave(), second.leave()]), 60_000, 'both leave()s')
    assert.equal(first.health().state, 'shut-down')
    assert.equal(second.health().state, 'shut-down')
  } finally {
    await Promise.all([first.shutdown(), second.shutdown()])
  }
})

test('a leaving leader whose only peer was lost (exiled for its silence) waits alone for a member to hand on to: a newcomer gets the state, then the leave completes', { timeout: 90_000 }, async () => {
  const members = await startIsland(2, 'leave-peer-lost', { pingMs: 100, timeoutMs: 1_000 })
  const [first, second] = members as [Member, Member]
  const leaving = leaderOf(members)
  const lost = leaving === first ? second : first
  let replacement: Member | null = null
  try {
    await settle(members)
    await leaving.colleague.enqueue('precious')
    await lost.colleague.shutdown()
    // Past a timeout of silence (short of the exile, two timeouts): the lost member is no longer a live one to hand on to.
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    let settled = false
    const left = leaving.colleague.leave().then(() => {
      settled = true
    })
    await waitFor(() => leaving.colleague.health().government?.exiled.includes(lost.colleague.colleagueId) === true, 20_000, 'the lost member to be exiled')
    await new Promise((resolve) => setTimeout(resolve, 500))
    assert.equal(settled, false, 'alone after an exile for silence, the leaver waits')
    assert.equal(leaving.colleague.health().state, 'member')
    replacement = await startMember('leave-peer-lost', { colleagueId: 'newcomer', pingMs: 100, timeoutMs: 1_000 })
    await bounded(replacement.colleague.join(leaving.url), 30_000, 'the newcomer joining through the leaver')
    await bounded(left, 30_000, 'leave() once it had a member to hand on to')
    assert.deepEqual(replacement.app.values, ['precious'], 'the state lives on in the newcomer')
  } finally {
    await stopAll(replacement === null ? members : [...members, replacement])
  }
})

test('leave({ signal }): a signal aborted before the call leaves nothing; an abort ends the wait of a leave that cannot finish', { timeout: 90_000 }, async () => {
  const members = await startIsland(3, 'leave-signal')
  try {
    await settle(members)
    const follower = followerOf(members)
    const id = follower.colleague.colleagueId
    await assert.rejects(follower.colleague.leave({ signal: AbortSignal.abort() }), { name: 'AbortError' })
    await assert.rejects(follower.colleague.leave({ signal: 'soon' } as never), { code: 'INVALID_OPTIONS' })
    // Still a member: a write through it commits, and the government still names it.
    await bounded(follower.colleague.enqueue('still here'), 30_000, 'a write through the member that did not leave')
    const government = follower.colleague.health().government
    assert.ok(government !== null && [...government.majority, ...government.minority].includes(id))
    assert.equal(follower.colleague.health().state, 'member')
    // Alone, it can never be exiled: the signal ends the wait, and shutdown() the colleague.
    await stopAll(members.filter((member) => member !== follower))
    await assert.rejects(bounded(follower.colleague.leave({ signal: AbortSignal.timeout(500) }), 20_000, 'the aborted leave()'), { name: 'TimeoutError' })
    assert.equal(follower.colleague.health().state, 'member', 'only the wait ended')
    // A shutdown cuts a leave short: it never left (the others would exile it), so leave() says so.
    const cutShort = follower.colleague.leave()
    await follower.colleague.shutdown()
    await assert.rejects(bounded(cutShort, 20_000, 'the leave() cut short'), { code: 'SHUT_DOWN', message: /before it left the island/ })
    assert.equal(follower.colleague.health().government?.exiled.includes(id), false, 'no government without it was chosen')
  } finally {
    await stopAll(members)
  }
})

test('leave() does not wait out the close grace of its server: a connection whose request was under way is closed once answered', { timeout: 60_000 }, async () => {
  // Unpaced, the leader's next message reaches a leaving follower at once, under way as its server closes.
  const members = await startIsland(3, 'leave-close', { minorityPaceMs: 0 })
  try {
    await settle(members)
    const leaving = members.find((member) => member !== leaderOf(members)) as Member
    const times: number[] = []
    for (let round = 0; round < 3; round++) {
      // Peers' requests reach the leaving member all the time: some are under way when its server closes.
      if (round > 0) {
        const newcomer = await startMember('leave-close', { colleagueId: `n${round}`, minorityPaceMs: 0 })
        members.push(newcomer)
        await newcomer.colleague.join((members[0] as Member).url)
      }
      const member = round === 0 ? leaving : (members.at(-1) as Member)
      const started = Date.now()
      await bounded(member.colleague.leave(), 30_000, 'leave()')
      times.push(Date.now() - started)
    }
    // Held to the close grace (a second), a leave with a request under way at the close took just over it.
    assert.ok(Math.max(...times) < 800, `leave() took ${times.join(', ')} ms`)
  } finally {
    await stopAll(members)
  }
})

test('leave() on a colleague that is in no island fails with NOT_JOINED', async () => {
  const colleague = new Colleague({ islandName: 'leave-idle', location: 'http://127.0.0.1:1', application: { entry: () => {} } })
  await assert.rejects(colleague.leave(), (error: ColleagueError) => error.code === 'NOT_JOINED')
  await colleague.shutdown()
})
