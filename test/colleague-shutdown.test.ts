import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startIsland, stopAll, type Member } from './colleague-island.js'

/** The promise's rejection; a failure if it resolves, or if it does not settle within `timeoutMs`. */
async function rejectionOf(promise: Promise<unknown>, timeoutMs: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise((resolve) => (timer = setTimeout(() => resolve(`not settled within ${timeoutMs} ms`), timeoutMs)))
  try {
    return await Promise.race([promise.then((value) => `resolved ${JSON.stringify(value)}`, (error: unknown) => error), late])
  } finally {
    clearTimeout(timer)
  }
}

test('shutdown() rejects the enqueue calls still pending, with SHUT_DOWN', { timeout: 30_000 }, async () => {
  const members = await startIsland(3, 'shutdown-pending')
  try {
    const leaderId = members[0]?.colleague.health().leader
    const leader = members.find((member) => member.colleague.colleagueId === leaderId) as Member
    assert.equal(leader.colleague.health().crash, null, 'a healthy colleague reports no crash')
    // Without its two followers the leader can commit nothing: its enqueues stay pending.
    await Promise.all(members.filter((member) => member !== leader).map((member) => member.colleague.shutdown()))
    const pending = [leader.colleague.enqueue('never committed'), leader.colleague.enqueue({ nor: 'this' })]
    assert.equal(leader.colleague.health().pending, 2)
    const outcomes = pending.map((promise) => rejectionOf(promise, 5_000))
    await leader.colleague.shutdown()
    for (const error of await Promise.all(outcomes)) {
      assert.equal((error as { code?: unknown }).code, 'SHUT_DOWN', String(error))
    }
    assert.equal(leader.colleague.health().pending, 0)
  } finally {
    await stopAll(members)
  }
})
