// `npm run simulate -- --jobs N`: seeds run on worker threads give each seed
// the result a serial run gives, reported in seed order, whatever N.

import { strict as assert } from 'node:assert'
import { test } from 'node:test'
import { runSeeds, type SeedResult, type SeedSpec } from '../scripts/seed-pool.js'

const COLLEAGUE: SeedSpec = {
  stack: 'colleague',
  family: 'default',
  members: undefined,
  mutant: undefined,
  colleagueMutant: undefined,
  durableMutant: undefined,
  durable: false,
  steps: 200,
}

async function results(spec: SeedSpec, first: number, count: number, jobs: number): Promise<SeedResult[]> {
  const outcomes: SeedResult[] = []
  const { threads } = await runSeeds(spec, first, count, jobs, (outcome) => outcomes.push(outcome))
  assert.equal(threads, Math.min(jobs, count), 'one thread per job')
  return outcomes
}

test('colleague seeds on three threads give the serial results, in seed order', async () => {
  const serial = await results(COLLEAGUE, 1, 6, 1)
  const threaded = await results(COLLEAGUE, 1, 6, 3)
  assert.deepEqual(
    threaded.map((outcome) => outcome.result.seed),
    [1, 2, 3, 4, 5, 6],
  )
  assert.deepEqual(threaded, serial)
  assert.ok(serial.every((outcome) => outcome.stack === 'colleague' && outcome.result.stats.steps > 200), 'each seed ran')
})

test('a mutant caught on worker threads shows the same violations as in a serial run', async () => {
  // oob-retry is caught at seed 1 (a second out-of-band request).
  const spec: SeedSpec = { ...COLLEAGUE, steps: undefined, colleagueMutant: 'oob-retry' }
  const serial = await results(spec, 1, 3, 1)
  const threaded = await results(spec, 1, 3, 2)
  assert.ok(serial.some((outcome) => outcome.result.violations.length > 0), 'the mutant is caught')
  assert.deepEqual(threaded, serial)
})

test('core seeds on two threads give the serial results', async () => {
  const spec: SeedSpec = { ...COLLEAGUE, stack: 'core', steps: undefined }
  const serial = await results(spec, 10, 8, 1)
  const threaded = await results(spec, 10, 8, 2)
  assert.deepEqual(threaded, serial)
})
