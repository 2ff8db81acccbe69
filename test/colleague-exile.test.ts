import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { Colleague, type ColleagueError } from '../src/index.js'
import { ListApplication, TEST_TIMING, settle, startIsland, stopAll, waitFor, type Member } from './colleague-island.js'

// The leader's 'exiled' refusal reaches the healed member through the
// properties the legislator remembers for exiles.
test('a member cut off from the island is exiled and, healed, crashes with EXILED', {
  timeout: 30_000,
}, async () => {
  const members = await startIsland(2, 'exile')
  // The third member is reached through a switch that can stop delivering to it.
  let deliver = true
  let colleague: Colleague | null = null
  const server = createServer((request, response) => {
    if (deliver && colleague !== null) return colleague.handler(request, response)
    response.writeHead(503).end()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const app = new ListApplication()
  colleague = new Colleague({
    islandName: 'exile',
    colleagueId: 'cut-off',
    location: url,
    ...TEST_TIMING,
    application: { entry: (entry) => app.entry(entry), restore: (state) => app.restore(state) },
  })
  const third: Member = { colleague, app, url }
  try {
    await colleague.join((members[0] as Member).url)
    await settle([...members, third])
    const crashed = once(colleague, 'crash') as Promise<[ColleagueError]>
    assert.equal(colleague.health().exiled, false)
    deliver = false
    await waitFor(
      () => members.every((member) => member.colleague.health().government?.exiled.includes('cut-off')),
      20_000,
      'the others to exile it',
    )
    await (members[1] as Member).colleague.enqueue('after exile')
    // Healed, it hears that it was exiled, and stops for good.
    deliver = true
    const [error] = await Promise.race([
      crashed,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no EXILED crash within 5 s')), 5_000)),
    ])
    assert.equal(error.code, 'EXILED')
    assert.equal(colleague.health().state, 'crashed')
    assert.equal(colleague.health().exiled, true)
  } finally {
    await stopAll([...members, third])
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})
