// A step of the system's wall clock (NTP, an administrator, a virtual machine
// resumed) moves none of the colleague's deadlines, paces or ages: the system
// clock is monotonic. Each test steps `Date.now()` and puts it back.

import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { test } from 'node:test'
import { systemClock } from '../src/index.js'
import { startIsland, startMember, stopAll, type Member } from './colleague-island.js'
import { closeServer, listen } from './support/servers.js'

const HOUR_MS = 3_600_000

/** Runs `body` with `Date.now()` stepped by `stepMs` from the moment `step()` is called; always puts it back. */
async function withWallClock<T>(body: (step: (stepMs: number) => void) => Promise<T>): Promise<T> {
  const wall = Date.now
  let offset = 0
  Date.now = () => wall() + offset
  try {
    return await body((stepMs) => (offset += stepMs))
  } finally {
    Date.now = wall
  }
}

test("the system clock does not follow a step of the wall clock, either way", async () => {
  await withWallClock(async (step) => {
    for (const stepMs of [HOUR_MS, -2 * HOUR_MS]) {
      const before = systemClock.now()
      const wallBefore = Date.now()
      step(stepMs)
      const after = systemClock.now()
      assert.ok(Math.abs(Date.now() - wallBefore - stepMs) < 1_000, 'the wall clock stepped')
      // Generous for a busy machine, and far below the step.
      assert.ok(after >= before && after - before < 10_000, `systemClock moved ${after - before} ms across a step of ${stepMs} ms`)
    }
  })
})

// Read through the wall clock, the join's deadline would have passed the moment the clock stepped.
test('a join goes on when the wall clock steps an hour ahead while it waits for its answer', { timeout: 60_000 }, async () => {
  const members = await startIsland(1, 'clock-step')
  const [founder] = members as [Member]
  const extra: Member[] = []
  let stepped = false
  await withWallClock(async (step) => {
    // The founder answers POST /join a little late; the wall clock steps while the newcomer waits.
    const late = createServer((request, response) => {
      if (request.url !== '/join') return founder.colleague.handler(request, response)
      step(HOUR_MS)
      stepped = true
      setTimeout(() => founder.colleague.handler(request, response), 200)
    })
    const lateUrl = await listen(late)
    try {
      const newcomer = await startMember('clock-step', { colleagueId: 'newcomer' })
      extra.push(newcomer)
      await newcomer.colleague.join(lateUrl)
      assert.equal(stepped, true, 'the clock stepped during the join')
      assert.equal(newcomer.colleague.naturalized(), true)
      const { position } = await newcomer.colleague.enqueue('after the step')
      assert.equal(newcomer.app.positions.at(-1), position)
    } finally {
      await stopAll([...members, ...extra])
      await closeServer(late)
    }
  })
})
