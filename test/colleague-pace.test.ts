// A leader commits with its majority, so it paces its minority: one writer's
// writes, one at a time, reach the majority follower each in its own request
// and the minority many at a time (once per pace, or once enough wait). The
// minority applies every one all the same, and commits them once the majority
// follower is gone.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Colleague } from '../src/index.js'
import { PACE_ENTRIES_ENOUGH } from '../src/kibitzer/kibitzer.js'
import { settle, startIsland, startMember, stopAll, TEST_TIMING, waitFor, type Member } from './colleague-island.js'

const WRITES = 100
/** Long enough that even a slow machine writes many values within one pace. */
const PACE_MS = 50

function byRole(members: readonly Member[]): { leader: Member; majority: Member; minority: Member } {
  const government = members[0]?.colleague.health().government
  assert.ok(government)
  const find = (id: string | undefined): Member => members.find((member) => member.colleague.colleagueId === id) as Member
  return { leader: find(government.majority[0]), majority: find(government.majority[1]), minority: find(government.minority[0]) }
}

const kibitzRequests = (member: Member): number => member.colleague.health().requests.kibitz ?? 0

test('the minority hears a lone writer a few writes at a time, applies every one, and commits them once the majority follower is gone', { timeout: 60_000 }, async () => {
  const members = await startIsland(3, 'pace', { minorityPaceMs: PACE_MS })
  try {
    await settle(members)
    const { leader, majority, minority } = byRole(members)
    const before = { majority: kibitzRequests(majority), minority: kibitzRequests(minority) }
    const started = Date.now()
    for (let index = 0; index < WRITES; index++) await leader.colleague.enqueue(index)
    const elapsedMs = Date.now() - started
    const majorityRequests = kibitzRequests(majority) - before.majority
    const minorityRequests = kibitzRequests(minority) - before.minority
    assert.ok(majorityRequests >= WRITES, `the majority follower heard each write: ${majorityRequests} requests`)
    // One request per pace, or sooner once enough writes wait; and one more for the send that ended the writes.
    const bound = Math.ceil(elapsedMs / PACE_MS) + Math.ceil(WRITES / PACE_ENTRIES_ENOUGH) + 2
    assert.ok(minorityRequests <= bound, `${minorityRequests} requests to the minority in ${elapsedMs} ms, at most ${bound}`)
    await waitFor(() => minority.app.values.length === leader.app.values.length, 10_000, 'the minority to apply every write')
    assert.deepEqual(minority.app.values, leader.app.values)

    // The majority follower goes: every write now needs the minority, which hears it within a pace.
    await majority.colleague.shutdown()
    await leader.colleague.enqueue('after')
    await waitFor(() => minority.app.values.at(-1) === 'after', 10_000, 'the minority to apply the write it committed')
  } finally {
    await stopAll(members)
  }
})

test('writes through a paced member do not wait for its pace: the leader tells it at once that its own values committed', { timeout: 60_000 }, async () => {
  // A pace far longer than a write takes, even on a busy machine.
  const pace = 1_000
  const writes = 5
  const members = await startIsland(3, 'pace-submitter', { pingMs: pace, timeoutMs: 5 * pace, minorityPaceMs: pace })
  try {
    await settle(members)
    const { minority } = byRole(members)
    const started = Date.now()
    for (let index = 0; index < writes; index++) await minority.colleague.enqueue(index)
    const elapsedMs = Date.now() - started
    // Held to the pace, each write would wait up to a pace for the news of its commit.
    assert.ok(elapsedMs < (writes * pace) / 2, `${writes} writes through the minority took ${elapsedMs} ms`)
    assert.deepEqual(minority.app.values.slice(-writes), [0, 1, 2, 3, 4])
  } finally {
    await stopAll(members)
  }
})

test('joining and leaving do not wait for the pace: a government committed goes to paced members at once, and to those it leaves out', { timeout: 60_000 }, async () => {
  // A pace far longer than a join or a leave takes, even on a busy machine.
  const pace = 2_000
  const timing = { pingMs: pace, timeoutMs: 5 * pace, minorityPaceMs: pace }
  const members = await startIsland(3, 'pace-governments', timing)
  try {
    await settle(members)
    // The newcomer's arrival needs the parliament of three, and reaches it, a constituent, as a paced peer.
    const newcomer = await startMember('pace-governments', { colleagueId: 'm3', ...timing })
    members.push(newcomer)
    const joinStarted = Date.now()
    await newcomer.colleague.join((members[0] as Member).url)
    const joinMs = Date.now() - joinStarted
    assert.ok(joinMs < pace / 2, `join took ${joinMs} ms`)
    // The minority leaves: the government without it reaches it at once, and so does the news that it is out.
    const { minority } = byRole(members)
    const left = new Promise<number>((resolve) => minority.colleague.once('shutdown', () => resolve(Date.now())))
    const leaveStarted = Date.now()
    await minority.colleague.leave()
    const leaveMs = (await left) - leaveStarted
    // leave() closes the server last, which waits up to a second for connections in use.
    assert.ok(leaveMs < pace, `leave took ${leaveMs} ms`)
  } finally {
    await stopAll(members)
  }
})

test('minorityPaceMs is checked: a number of milliseconds from 0 to pingMs', () => {
  const application = { entry: () => {} }
  for (const minorityPaceMs of [-1, Number.NaN, TEST_TIMING.pingMs + 1, '5' as unknown as number]) {
    assert.throws(() => new Colleague({ islandName: 'x', ...TEST_TIMING, minorityPaceMs, application }), { code: 'INVALID_OPTIONS' }, String(minorityPaceMs))
  }
  for (const minorityPaceMs of [0, 10, TEST_TIMING.pingMs]) new Colleague({ islandName: 'x', ...TEST_TIMING, minorityPaceMs, application })
})
