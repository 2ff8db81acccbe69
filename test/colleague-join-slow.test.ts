import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { test } from 'node:test'
import { startIsland, startMember, stopAll, TEST_TIMING, waitFor, type Member } from './colleague-island.js'
import { closeServer, listen } from './support/servers.js'

// On a busy machine a member may take longer than one peer timeout to answer
// POST /join. The first request is bounded by the join's own time
// (joinTimeoutMs), not by timeoutMs; the repeats that go meanwhile, each
// bounded by timeoutMs and as slow to answer, neither fail the join nor hold it back.
test('a join through a member slower to answer than timeoutMs succeeds', { timeout: 60_000 }, async () => {
  const members = await startIsland(1, 'slow-join')
  const [founder] = members as [Member]
  const delayMs = TEST_TIMING.timeoutMs * 4
  const slow = createServer((request, response) => {
    if (request.url === '/join') setTimeout(() => founder.colleague.handler(request, response), delayMs)
    else founder.colleague.handler(request, response)
  })
  const slowUrl = await listen(slow)
  const extra: Member[] = []
  try {
    const newcomer = await startMember('slow-join', { colleagueId: 'newcomer' })
    extra.push(newcomer)
    await newcomer.colleague.join(slowUrl)
    assert.equal(newcomer.colleague.naturalized(), true)
    await newcomer.colleague.enqueue('after a slow join')
    await waitFor(() => founder.app.values.length === 1, 20_000, 'the founder applied')
  } finally {
    await stopAll([...members, ...extra])
    await closeServer(slow)
  }
})

/**
 * A newcomer joins an island of one through a proxy that holds the answer to
 * its POST /join until `drop(newcomer, joined)` settles, then drops it (closes the
 * connection): the island admitted it, its answer is lost. Resolves with the
 * newcomer once it joined and its value was applied, and whether the answer
 * had been dropped by the time `join()` resolved.
 */
async function joinWithHeldAnswer(
  name: string,
  drop: (newcomer: Member, joined: () => boolean) => Promise<unknown>,
): Promise<{ droppedBeforeJoined: boolean }> {
  const members = await startIsland(1, name)
  const [founder] = members as [Member]
  const extra: Member[] = []
  let dropped = false
  let joined = false
  const proxy = createServer((request, response) => {
    if (request.url !== '/join') return founder.colleague.handler(request, response)
    const held = Object.assign(Object.create(response) as typeof response, {
      end: () => {
        void drop(extra[0] as Member, () => joined)
          .catch(() => {})
          .finally(() => {
            dropped = true
            response.socket?.destroy()
          })
        return held
      },
    })
    founder.colleague.handler(request, held)
  })
  const proxyUrl = await listen(proxy)
  try {
    const newcomer = await startMember(name, { colleagueId: 'newcomer', joinTimeoutMs: 45_000 })
    extra.push(newcomer)
    await newcomer.colleague.join(proxyUrl)
    joined = true
    const droppedBeforeJoined = dropped
    assert.equal(newcomer.colleague.naturalized(), true)
    await newcomer.colleague.enqueue('after a lost answer')
    await waitFor(() => founder.app.values.length === 1, 20_000, 'the founder applied')
    await waitFor(() => dropped, 35_000, 'the answer dropped')
    return { droppedBeforeJoined }
  } finally {
    await stopAll([...members, ...extra])
    await closeServer(proxy)
  }
}

// The first join request can go through (the island admits the newcomer) and
// its answer still be lost. The newcomer is then a member, which may vote or
// lead soon after: its join goes on instead of failing with JOIN_FAILED.
test('a join whose first request is admitted and its answer lost succeeds', { timeout: 60_000 }, async () => {
  await joinWithHeldAnswer('lost-join-answer', (newcomer) =>
    waitFor(() => newcomer.colleague.health().government != null, 20_000, 'the newcomer applied its arrival'),
  )
})

// Nor does the join wait for that answer: once the island admitted the
// newcomer, the answer can only say what the newcomer knows. Here the answer
// is held until the join resolved (or 30 s went by, which fails the test).
test('a join goes on once the island admitted the colleague, without waiting for the answer to its request', { timeout: 90_000 }, async () => {
  const { droppedBeforeJoined } = await joinWithHeldAnswer('held-join-answer', (_, joined) => waitFor(joined, 30_000, 'the join'))
  assert.equal(droppedBeforeJoined, false, 'join() waited for the answer to its request')
})

// The first request can also be lost on its way (a partition, a paused
// member, a connection that hangs): nothing answers it and nothing admits the
// newcomer. The join asks again every timeout meanwhile, and the first answer
// of any request will do: without that, the join would wait out its whole
// time on the lost request and fail with JOIN_FAILED.
test('a join whose first request is lost on its way asks again and succeeds', { timeout: 60_000 }, async () => {
  const members = await startIsland(1, 'lost-join-request')
  const [founder] = members as [Member]
  const joinTimeoutMs = 20_000
  let joins = 0
  const proxy = createServer((request, response) => {
    if (request.url !== '/join') return founder.colleague.handler(request, response)
    joins++
    // The first one is swallowed: read, never forwarded, never answered.
    if (joins === 1) request.resume()
    else founder.colleague.handler(request, response)
  })
  const proxyUrl = await listen(proxy)
  const extra: Member[] = []
  try {
    const newcomer = await startMember('lost-join-request', { colleagueId: 'newcomer', joinTimeoutMs })
    extra.push(newcomer)
    await newcomer.colleague.join(proxyUrl)
    assert.equal(newcomer.colleague.naturalized(), true)
    assert.ok(joins >= 2, `the join asked again (${joins} requests)`)
    await newcomer.colleague.enqueue('after a lost request')
    await waitFor(() => founder.app.values.length === 1, 20_000, 'the founder applied')
  } finally {
    await stopAll([...members, ...extra])
    await closeServer(proxy)
  }
})
