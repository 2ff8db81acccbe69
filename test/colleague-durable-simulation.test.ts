// The whole-colleague simulator in durable mode: members keep their storage on
// simulated disks, come back from them after crashes (whole-island crashes
// included), and every acknowledged enqueue must survive. A block of seeds
// must keep every invariant, and each durability mutant must be caught within
// 200 seeds, on a seed the correct storage passes.

import { strict as assert } from 'node:assert'
import { test } from 'node:test'
import { DURABLE_MUTANTS, simulate, type Workload } from '../src/testing/index.js'
import { bank, bankWritingThroughTimer } from './support/applications.js'
import { DURABLE_FIXED_BUGS, describeViolation } from './support/colleague-seeds.js'

const MUTANT_SEEDS_MAX = 200
/** Correct durable seeds run here: 3 members, then 5. */
const SEEDS_THREE = 60
const SEEDS_FIVE = 15

test(`durable seeds 1 to ${SEEDS_THREE} (3 members) and 1 to ${SEEDS_FIVE} (5 members): every invariant holds`, async () => {
  const failures: string[] = []
  for (const [members, seeds] of [[3, SEEDS_THREE], [5, SEEDS_FIVE]] as const) {
    for (let seed = 1; seed <= seeds; seed++) {
      const { violations } = await simulate({ seed, members, durable: true })
      for (const violation of violations) failures.push(`${members} members: ${describeViolation(violation, undefined, true)}`)
    }
  }
  assert.deepEqual(failures, [])
})

for (const { seed, durable, bug } of DURABLE_FIXED_BUGS) {
  test(`durable seed ${seed} ${JSON.stringify(durable)} keeps every invariant (a fixed library bug)`, async () => {
    const { violations, stats } = await simulate({ seed, durable })
    assert.deepEqual(violations.map((violation) => describeViolation(violation, undefined, true)), [], bug)
    assert.ok((stats.durable?.resumed ?? 0) > 0, 'members came back from their disks')
  })
}

test('a member resuming from its directory applies nothing before its application has restored, however long restore() waits', async () => {
  // Peers send a resuming member what they committed as soon as it listens. Its entries applied while an
  // asynchronous restore() was still under way, and restore() then overwrote them: seed 2 applied position 33
  // before its state was restored. A restore() that waits on real I/O makes that wait long.
  const deposits: Workload = (api, random) => {
    if (api.members.length === 0 || !random.chance(0.3)) return
    api.enqueue(random.pick(api.members), { deposit: random.pick(['alice', 'bob', 'carol']), amount: 1 + random.int(100) }).catch(() => {})
  }
  let resumed = 0
  for (const [seed, application] of [
    [2, bankWritingThroughTimer],
    [3, bankWritingThroughTimer],
    [2, bank],
  ] as const) {
    const { violations, stats } = await simulate({ seed, steps: 300, durable: true, application, workload: deposits })
    assert.deepEqual(violations.map((violation) => describeViolation(violation, undefined, true)), [])
    resumed += stats.durable?.resumed ?? 0
  }
  assert.ok(resumed > 0, 'members came back from their disks')
})

for (const mutant of DURABLE_MUTANTS) {
  test(`durable mutant ${mutant} is caught within ${MUTANT_SEEDS_MAX} seeds`, async (t) => {
    for (let seed = 1; seed <= MUTANT_SEEDS_MAX; seed++) {
      const [violation] = (await simulate({ seed, durable: { mutant } })).violations
      if (violation === undefined) continue
      // It counts only where the correct storage keeps every invariant.
      const correct = await simulate({ seed, durable: true })
      if (correct.violations.length > 0) continue
      t.diagnostic(`caught at ${describeViolation(violation, mutant, true)}`)
      return
    }
    assert.fail(`durable mutant ${mutant} survived seeds 1 to ${MUTANT_SEEDS_MAX}`)
  })
}

test('a durable seed replays exactly, trace and all, and its members restart from their disks', async () => {
  const run = async (): Promise<{ lines: string[]; stats: unknown }> => {
    const lines: string[] = []
    const result = await simulate({ seed: 3, steps: 300, durable: true, trace: (line) => lines.push(line) })
    return { lines, stats: result.stats }
  }
  const first = await run()
  const second = await run()
  assert.ok(first.lines.some((line) => line.includes('starts again on its directory')), 'a member came back from its disk')
  assert.deepEqual(second.lines, first.lines)
  assert.deepEqual(second.stats, first.stats)
})
