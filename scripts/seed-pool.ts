// Runs a range of simulation seeds on several threads: this one and
// `jobs - 1` worker threads, each taking the next seed not yet taken from a
// shared counter, so a slow seed holds up no other. Each seed runs on its own
// from its seed and options, whichever thread takes it, so its result is the
// one a serial run gives; results are handed on in seed order.

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import type { Mutant } from '../src/paxos/types.js'
import { oneSubmitter, simulate, simulateLegislators } from '../src/testing/index.js'
import type { ColleagueMutant, ColleagueSimulateOptions, ColleagueSimulationResult, DurableMutant, SimulateOptions, SimulationResult } from '../src/testing/index.js'

/** What every seed of a run shares: plain data, so that a worker thread gets it as it is. */
export interface SeedSpec {
  readonly stack: 'core' | 'colleague'
  readonly family: 'default' | 'one-submitter'
  readonly members: 3 | 5 | undefined
  readonly mutant: Mutant | undefined
  readonly colleagueMutant: ColleagueMutant | undefined
  readonly durableMutant: DurableMutant | undefined
  readonly durable: boolean
  readonly steps: number | undefined
}

export type SeedResult =
  | { readonly stack: 'core'; readonly result: SimulationResult }
  | { readonly stack: 'colleague'; readonly result: ColleagueSimulationResult }

/** `--family one-submitter`: this many enqueues through m1 in each seed, over this many steps at most. */
export const ONE_SUBMITTER_TOTAL = 20_000
export const ONE_SUBMITTER_STEPS = 3_000

/** Threads at most, whatever `jobs` asks. */
export const JOBS_MAX = 64

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
    ...(spec.durable && { durable: spec.durableMutant === undefined ? true : { mutant: spec.durableMutant } }),
    ...(spec.steps === undefined ? {} : { steps: spec.steps }),
    ...(trace === undefined ? {} : { trace }),
  }
  return { stack: 'colleague', result: await simulate(options) }
}

interface PoolData {
  readonly seedPool: true
  readonly spec: SeedSpec
  readonly first: number
  readonly count: number
  /** One Int32: the index of the next seed to take. */
  readonly next: SharedArrayBuffer
}

type WorkerMessage = { readonly seed: number; readonly outcome: SeedResult } | { readonly seed: number; readonly error: string }

/**
 * Runs seeds `first` to `first + count - 1` on `jobs` threads (this one
 * included) and calls `onResult` for each, in seed order; returns how
 * many threads ran (at most one per seed). Rejects if a seed throws or a
 * worker thread dies.
 */
export async function runSeeds(spec: SeedSpec, first: number, count: number, jobs: number, onResult: (outcome: SeedResult) => void): Promise<{ threads: number }> {
  const threads = Math.max(1, Math.min(jobs, count, JOBS_MAX))
  if (threads === 1) {
    for (let seed = first; seed < first + count; seed++) onResult(await runSeed(spec, seed))
    return { threads }
  }
  const next = new SharedArrayBuffer(4)
  const counter = new Int32Array(next)
  const waiting = new Map<number, SeedResult>()
  let due = first
  const arrived = (seed: number, outcome: SeedResult): void => {
    waiting.set(seed, outcome)
    for (let ready = waiting.get(due); ready !== undefined; ready = waiting.get(due)) {
      waiting.delete(due)
      due++
      onResult(ready)
    }
  }
  const data: PoolData = { seedPool: true, spec, first, count, next }
  const workers: Promise<void>[] = []
  for (let index = 1; index < threads; index++) {
    const worker = new Worker(new URL(import.meta.url), { workerData: data })
    workers.push(
      new Promise<void>((resolve, reject) => {
        let failure: Error | null = null
        worker.on('message', (message: WorkerMessage) => {
          if ('error' in message) failure ??= new Error(`seed ${message.seed} threw in a worker thread: ${message.error}`)
          else arrived(message.seed, message.outcome)
        })
        worker.on('error', (error) => {
          failure ??= error
        })
        worker.on('exit', (code) => {
          if (failure === null && code !== 0) failure = new Error(`a worker thread exited with code ${code}`)
          if (failure === null) resolve()
          else reject(failure)
        })
      }),
    )
  }
  // Every worker is waited for even when one fails, so none outlives the run.
  const finished = Promise.allSettled(workers)
  try {
    for (let index = Atomics.add(counter, 0, 1); index < count; index = Atomics.add(counter, 0, 1)) {
      arrived(first + index, await runSeed(spec, first + index))
    }
  } catch (error) {
    // Let the workers run out of seeds, then report this thread's failure.
    Atomics.store(counter, 0, count)
    await finished
    throw error
  }
  for (const settled of await finished) if (settled.status === 'rejected') throw settled.reason
  if (due !== first + count) throw new Error(`seed ${due} never reported a result`)
  return { threads }
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
