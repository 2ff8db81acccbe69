// One simulation seed as a `SeedSpec` says, and the worker thread of a
// `SeedPool` (seed-pool.ts): it takes seeds from the pool's shared counter
// until none is left, and posts each result back.

import { isMainThread, parentPort, workerData } from 'node:worker_threads'
import { oneSubmitter, simulate, simulateLegislators } from '../src/testing/index.js'
import type { ColleagueSimulateOptions, SimulateOptions } from '../src/testing/index.js'
import type { PoolData, SeedResult, SeedSpec, WorkerMessage } from './seed-pool.js'

export { COLLEAGUE_FAULTS } from '../src/testing/index.js'

/** `--family one-submitter`: this many enqueues through m1 in each seed, over this many steps at most. */
export const ONE_SUBMITTER_TOTAL = 20_000
export const ONE_SUBMITTER_STEPS = 3_000

/** Runs one seed as `spec` says; `trace` prints its events. */
export async function runSeed(spec: SeedSpec, seed: number, trace?: (line: string) => void): Promise<SeedResult> {
  if (spec.stack === 'core') {
    const options: SimulateOptions = {
      seed,
      ...(spec.members === undefined ? {} : { members: spec.members }),
      ...(spec.mutant === undefined ? {} : { mutant: spec.mutant }),
      ...(spec.steps === undefined ? {} : { steps: spec.steps }),
      ...(trace === undefined ? {} : { trace }),
    }
    return { stack: 'core', result: simulateLegislators(options) }
  }
  const options: ColleagueSimulateOptions = {
    seed,
    members: spec.members ?? 3,
    ...(spec.family === 'one-submitter' && {
      workload: oneSubmitter({ member: 'm1', total: ONE_SUBMITTER_TOTAL }),
      spare: ['m1'],
      steps: ONE_SUBMITTER_STEPS,
    }),
    ...(spec.colleagueMutant === undefined ? {} : { mutant: spec.colleagueMutant }),
    ...(spec.durable && {
      durable: {
        ...(spec.durableMutant !== undefined && { mutant: spec.durableMutant }),
        ...(spec.powerCutsInSync !== undefined && { powerCutsInSync: spec.powerCutsInSync }),
      },
    }),
    ...(spec.steps === undefined ? {} : { steps: spec.steps }),
    ...(trace === undefined ? {} : { trace }),
  }
  return { stack: 'colleague', result: await simulate(options) }
}

async function workerMain(data: PoolData): Promise<void> {
  const port = parentPort
  if (port === null) return
  const counter = new Int32Array(data.next)
  for (let index = Atomics.add(counter, 0, 1); index < data.count; index = Atomics.add(counter, 0, 1)) {
    const seed = data.first + index
    try {
      port.postMessage({ seed, outcome: await runSeed(data.spec, seed) } satisfies WorkerMessage)
    } catch (error) {
      port.postMessage({ seed, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies WorkerMessage)
      Atomics.store(counter, 0, data.count)
      return
    }
  }
}

if (!isMainThread && (workerData as Partial<PoolData> | null)?.seedPool === true) await workerMain(workerData as PoolData)
