// The whole-colleague simulator: real colleagues on a simulated network and
// clock. Seeds 1 to 1,000 must keep every invariant (1,001 to 2,000 are in
// colleague-simulation-more.test.ts, so the two halves run side by side),
// every colleague mutant must be caught within 200 seeds, and a seed replays
// exactly.

import { strict as assert } from 'node:assert'
import { test } from 'node:test'
import { COLLEAGUE_MUTANTS, simulate } from '../src/testing/index.js'
import { describeViolation, seedBlocks } from './support/colleague-seeds.js'

const MUTANT_SEEDS_MAX = 200

seedBlocks(1, 1000)

for (const mutant of COLLEAGUE_MUTANTS) {
  test(`colleague mutant ${mutant} is caught within ${MUTANT_SEEDS_MAX} seeds`, async (t) => {
    for (let seed = 1; seed <= MUTANT_SEEDS_MAX; seed++) {
      const [violation] = (await simulate({ seed, mutant })).violations
      if (violation !== undefined) {
        t.diagnostic(`caught at ${describeViolation(violation, mutant)}`)
        return
      }
    }
    assert.fail(`mutant ${mutant} survived seeds 1 to ${MUTANT_SEEDS_MAX}`)
  })
}

test('a colleague seed replays exactly, trace and all', async () => {
  const run = async (): Promise<{ lines: string[]; stats: unknown }> => {
    const lines: string[] = []
    const result = await simulate({ seed: 77, steps: 300, trace: (line) => lines.push(line) })
    return { lines, stats: result.stats }
  }
  const first = await run()
  const second = await run()
  assert.ok(first.lines.length > 20, 'the trace says what happened')
  assert.deepEqual(second.lines, first.lines)
  assert.deepEqual(second.stats, first.stats)
})

test('the simulated run restores the real Date, performance.now and Math.random, and opens no socket', async () => {
  const { now } = Date
  const { random } = Math
  const performanceNow = performance.now
  const RealDate = Date
  await simulate({ seed: 5, steps: 100 })
  // Runs that overlap put the real ones back too, whichever ends first.
  await Promise.all([simulate({ seed: 6, steps: 100 }), simulate({ seed: 7, steps: 50 })])
  assert.equal(Date, RealDate)
  assert.equal(Date.now, now)
  assert.equal(Math.random, random)
  assert.equal(performance.now, performanceNow)
  assert.deepEqual(process.getActiveResourcesInfo().filter((name) => name.startsWith('TCP')), [])
})
