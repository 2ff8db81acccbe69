// Durable storage on the simulator's disk, crashed at random: every record
// whose persist() returned (synced) is found after the restart, a torn tail
// never stops a restart, and each storage mutant is caught within 200 seeds.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Ballot, LogEntry } from '../src/paxos/types.js'
import { DurableStore, STORAGE_MUTANTS, type StorageMutant } from '../src/storage/durable-store.js'
import { createRandom } from '../src/testing/prng.js'
import { SimulatedDisk } from '../src/testing/simulated-disk.js'
import { soloGovernment, STORAGE_IDENTITY } from './support/storage.js'

const DIRECTORY = '/sim/a'
const identity = STORAGE_IDENTITY
const government = soloGovernment()

function value(position: number, round: number): LogEntry {
  return { type: 'value', submission: { from: 'a', seq: position, value: { position, round } } }
}

/** Runs one seed; returns a description of the first durability failure, or null. */
function runSeed(seed: number, mutant?: StorageMutant): string | null {
  const random = createRandom(seed)
  const disk = new SimulatedDisk()
  const options = { directory: DIRECTORY, fileSystem: disk, segmentBytesMax: 2048, ...(mutant !== undefined && { mutant }) }
  let store = DurableStore.open(options, { islandName: 'isle' }).store
  let round = 1
  const ballot = (): Ballot => ({ round, id: 'a' })
  store.begin(identity)
  store.persist({ promised: ballot(), accepted: [{ position: 0, ballot: ballot(), entry: { type: 'government', government } }], commit: 0, seq: 0 })
  store.writeSnapshot({ position: 0, government, governmentPosition: 0, submitters: {}, arrival: '1/0', state: { at: 0 } })
  /** Position to the round it was last accepted in, as far as a synced persist promised. */
  const promised = new Map<number, number>()
  /** Written, not yet known synced. */
  let unsynced = new Map<number, number>()
  let end = 0
  let commit = 0
  let snapshot = 0
  for (let step = 0; step < 120; step++) {
    const roll = random.int(100)
    try {
      if (roll < 55) {
        // Accept a batch: new positions, sometimes again positions above the commit point under a higher round.
        if (random.chance(0.15)) round++
        const from = random.chance(0.2) && end > commit ? commit + 1 + random.int(end - commit) : end + 1
        const count = 1 + random.int(8)
        const accepted = []
        for (let position = from; position < from + count; position++) {
          accepted.push({ position, ballot: ballot(), entry: value(position, round) })
          unsynced.set(position, round)
        }
        end = Math.max(end, from + count - 1)
        const synced = store.persist({ promised: random.chance(0.2) ? ballot() : null, accepted, commit, seq: end })
        if (synced) {
          // persist() returned after its sync: a peer may now be told, so a crash must not lose it.
          for (const [position, at] of unsynced) promised.set(position, at)
          unsynced = new Map()
        }
      } else if (roll < 70) {
        commit = Math.min(end, commit + 1 + random.int(10))
        store.persist({ promised: null, accepted: [], commit, seq: end })
      } else if (roll < 80 && commit > snapshot) {
        // A snapshot at the commit point (all of it was synced before it could be committed).
        for (const [position, at] of unsynced) if (position <= commit) promised.set(position, at)
        snapshot = commit
        store.writeSnapshot({ position: snapshot, government, governmentPosition: 0, submitters: {}, arrival: '1/0', state: { at: snapshot } })
      } else if (roll < 92) {
        disk.crash(random, true)
        const reopened = DurableStore.open(options, { islandName: 'isle' })
        store = reopened.store
        const recovered = reopened.recovered
        if (recovered === null) return `step ${step}: the member is gone after a crash`
        if (recovered.snapshot.position < snapshot) return `step ${step}: snapshot ${snapshot} lost (found ${recovered.snapshot.position})`
        const found = new Map(recovered.accepted.map((item) => [item.position, (item.entry as { submission: { value: { round: number } } }).submission.value.round]))
        for (const [position, at] of promised) {
          if (position <= recovered.snapshot.position) continue
          const got = found.get(position)
          if (got === undefined || got < at) return `step ${step}: position ${position} (round ${at}) lost after a crash (found ${got})`
        }
        unsynced = new Map()
        end = Math.max(commit, recovered.accepted.at(-1)?.position ?? 0, end)
        for (const position of [...promised.keys()]) if (position <= recovered.snapshot.position) promised.delete(position)
        round = Math.max(round, recovered.promised?.round ?? 0) + 1
      }
    } catch (error) {
      return `step ${step}: ${(error as Error).message}`
    }
  }
  return null
}

test('storage on a disk crashed at random keeps every synced record and restarts past torn tails (300 seeds)', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const failure = runSeed(seed)
    assert.equal(failure, null, `seed ${seed}: ${failure}`)
  }
})

for (const mutant of STORAGE_MUTANTS) {
  test(`storage mutant ${mutant} is caught within 200 seeds`, () => {
    let caught: string | null = null
    for (let seed = 1; seed <= 200 && caught === null; seed++) {
      const failure = runSeed(seed, mutant)
      if (failure !== null) caught = `seed ${seed}: ${failure}`
    }
    assert.ok(caught !== null, `${mutant} went unnoticed for 200 seeds`)
  })
}
