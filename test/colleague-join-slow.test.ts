import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { startIsland, startMember, stopAll, TEST_TIMING, waitFor, type Member } from './colleague-island.js'

// On a busy machine a member may take longer than one peer timeout to answer
// POST /join. The first request has no repeat, so it is bounded by the join's
// own time (joinTimeoutMs), not by timeoutMs.
test('a join through a member slower to answer than timeoutMs succeeds', { timeout: 60_000 }, async () => {
  const members = await startIsland(1, 'slow-join')
  const [founder] = members as [Member]
  const delayMs = TEST_TIMING.timeoutMs * 4
  const slow = createServer((request, response) => {
    if (request.url === '/join') setTimeout(() => founder.colleague.handler(request, response), delayMs)
    else founder.colleague.handler(request, response)
  })
  slow.listen(0, '127.0.0.1')
  await once(slow, 'listening')
  const extra: Member[] = []
  try {
    const newcomer = await startMember('slow-join', { colleagueId: 'newcomer' })
    extra.push(newcomer)
    await newcomer.colleague.join(`http://127.0.0.1:${(slow.address() as AddressInfo).port}`)
    assert.equal(newcomer.colleague.naturalized(), true)
    await newcomer.colleague.enqueue('after a slow join')
    await waitFor(() => founder.app.values.length === 1, 20_000, 'the founder applied')
  } finally {
    await stopAll([...members, ...extra])
    slow.closeAllConnections()
    await new Promise((resolve) => slow.close(resolve))
  }
})

// The first join request can go through (the island admits the newcomer) and
// its answer still be lost. The newcomer is then a member, which may vote or
// lead soon after: its join goes on instead of failing with JOIN_FAILED.
test('a join whose first request is admitted and its answer lost succeeds', { timeout: 60_000 }, async () => {
  const members = await startIsland(1, 'lost-join-answer')
  const [founder] = members as [Member]
  const extra: Member[] = []
  let cut = 0
  // Passes POST /join to the founder, holds the answer until the newcomer applied its arrival, then drops it.
  const lossy = createServer((request, response) => {
    if (request.url !== '/join') return founder.colleague.handler(request, response)
    const held = Object.assign(Object.create(response) as typeof response, {
      end: () => {
        void waitFor(() => extra[0]?.colleague.health().government != null, 20_000, 'the newcomer applied its arrival').then(
          () => {
            cut++
            response.socket?.destroy()
          },
          () => response.socket?.destroy(),
        )
        return held
      },
    })
    founder.colleague.handler(request, held)
  })
  lossy.listen(0, '127.0.0.1')
  await once(lossy, 'listening')
  try {
    const newcomer = await startMember('lost-join-answer', { colleagueId: 'newcomer' })
    extra.push(newcomer)
    await newcomer.colleague.join(`http://127.0.0.1:${(lossy.address() as AddressInfo).port}`)
    assert.equal(cut, 1, 'the answer to the first join request was lost')
    assert.equal(newcomer.colleague.naturalized(), true)
    await newcomer.colleague.enqueue('after a lost answer')
    await waitFor(() => founder.app.values.length === 1, 20_000, 'the founder applied')
  } finally {
    await stopAll([...members, ...extra])
    lossy.closeAllConnections()
    await new Promise((resolve) => lossy.close(resolve))
  }
})
