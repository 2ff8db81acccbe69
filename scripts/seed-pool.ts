// Runs a range of simulation seeds on several threads: this one and
// `jobs - 1` worker threads, each taking the next seed not yet taken from a
// shared counter, so a slow seed holds up no other. Each seed runs on its own
// from its seed and options, whichever thread takes it, so its result is the
// one a serial run gives; results are handed on in seed order. This module
// loads nothing of the simulator itself, so that the worker threads can start
// (and load it) while the caller is still loading it too.

import { Worker } from 'node:worker_threads'
import type { Mutant } from '../src/paxos/types.js'
import type { ColleagueMutant, ColleagueSimulationResult, DurableMutant, SimulationResult } from '../src/testing/index.js'

/** What every seed of a run shares: plain data, so that a worker thread gets it as it is. */
export interface SeedSpec {
  readonly stack: 'core' | 'colleague'
  readonly family: 'default' | 'one-submitter'
  readonly members: 3 | 5 | undefined
  readonly mutant: Mutant | undefined
  readonly colleagueMutant: ColleagueMutant | undefined
  readonly durableMutant: DurableMutant | undefined
  readonly durable: boolean
  /** Durable runs: `DurableSimulateOptions.powerCutsInSync`, or its default. */
  readonly powerCutsInSync?: number | undefined
  readonly steps: number | undefined
}

export type SeedResult =
  | { readonly stack: 'core'; readonly result: SimulationResult }
  | { readonly stack: 'colleague'; readonly result: ColleagueSimulationResult }

/** Threads at most, whatever `jobs` asks. */
export const JOBS_MAX = 64

/** What a worker thread is started with. */
export interface PoolData {
  readonly seedPool: true
  readonly spec: SeedSpec
  readonly first: number
  readonly count: number
  /** One Int32: the index of the next seed to take. */
  readonly next: SharedArrayBuffer
}

export type WorkerMessage = { readonly seed: number; readonly outcome: SeedResult } | { readonly seed: number; readonly error: string }

/** Runs one seed on the calling thread. */
export type RunSeed = (spec: SeedSpec, seed: number) => Promise<SeedResult>

export interface SeedPool {
  /** Threads the seeds run on, this one included. */
  readonly threads: number
  /**
   * Runs every seed (this thread takes its share with `runSeed`) and calls
   * `onResult` for each, in seed order. Rejects if a seed throws or a worker
   * thread dies.
   */
  run(runSeed: RunSeed, onResult: (outcome: SeedResult) => void): Promise<void>
}

/**
 * Starts the worker threads for seeds `first` to `first + count - 1` on
 * `jobs` threads (this one included; at most one per seed); they begin to
 * take seeds at once.
 */
export function startSeedPool(spec: SeedSpec, first: number, count: number, jobs: number): SeedPool {
  const threads = Math.max(1, Math.min(jobs, count, JOBS_MAX))
  const next = new SharedArrayBuffer(4)
  const counter = new Int32Array(next)
  const waiting = new Map<number, SeedResult>()
  let due = first
  let deliver: (outcome: SeedResult) => void = () => {}
  const arrived = (seed: number, outcome: SeedResult): void => {
    waiting.set(seed, outcome)
    for (let ready = waiting.get(due); ready !== undefined; ready = waiting.get(due)) {
      waiting.delete(due)
      due++
      deliver(ready)
    }
  }
  const data: PoolData = { seedPool: true, spec, first, count, next }
  const workers: Promise<void>[] = []
  for (let index = 1; index < threads; index++) {
    const worker = new Worker(new URL('./seed-worker.js', import.meta.url), { workerData: data })
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
  return {
    threads,
    async run(runSeed, onResult) {
      deliver = onResult
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
    },
  }
}

/**
 * Runs seeds `first` to `first + count - 1` on `jobs` threads and calls
 * `onResult` for each, in seed order; returns how many threads ran.
 */
export async function runSeeds(spec: SeedSpec, first: number, count: number, jobs: number, onResult: (outcome: SeedResult) => void): Promise<{ threads: number }> {
  const pool = startSeedPool(spec, first, count, jobs)
  const { runSeed } = await import('./seed-worker.js')
  await pool.run(runSeed, onResult)
  return { threads: pool.threads }
}
