// npm run simulate -- [--stack core|colleague] --seeds N [--seed S] [--members 3|5] [--mutant NAME] [--steps T] [--jobs J] [--trace]
// npm run simulate -- --stack colleague --family one-submitter --seeds N   (20,000 enqueues through m1 a seed)
// npm run simulate -- --list-mutants [--stack colleague [--durable]]
// npm run simulate -- --stack colleague --durable --seeds N [--mutant NAME]   (storage on simulated disks, restarts from them)
// npm run simulate -- --stack colleague --durable --power-cuts-in-sync P ...      (the chance, at each sync, that the power goes mid-sync)
//
// Runs seeded island simulations and prints every violation with the seed
// that replays it: `--stack core` (the default) drives legislators alone,
// `--stack colleague` whole colleagues with their application. The last line
// is always `seeds N, violations V, seeds/s R`; the exit status is 0 only when
// V is 0, and 2 for bad arguments. Seeds run on `--jobs` threads (default:
// the cores available; 1 with --trace); each seed's result is the same
// whatever the number, and they are reported in seed order.
//
// `npm run simulate` starts node with `--single-threaded`: V8's background
// garbage-collection and compiler threads would otherwise compete with the
// seed threads for the same cores (on two cores, 9% fewer colleague seeds a
// second with them; the results are the same either way).

import { availableParallelism } from 'node:os'
import { performance } from 'node:perf_hooks'
import { MUTANTS } from '../src/paxos/types.js'
import type { Mutant } from '../src/paxos/types.js'
import { COLLEAGUE_MUTANTS, type ColleagueMutant } from '../src/colleague/mutants.js'
import { DURABLE_MUTANTS, type DurableMutant } from '../src/testing/durable-members.js'
import { FAULT_TYPES, type FaultType, type SimulationResult } from '../src/testing/island.js'
import type { ColleagueSimulationResult } from '../src/testing/index.js'
import { JOBS_MAX, startSeedPool, type SeedResult, type SeedSpec } from './seed-pool.js'

/** The simulator itself, loaded once the worker threads are on their way (they load it too). */
type Simulator = typeof import('./seed-worker.js')

interface Arguments extends SeedSpec {
  readonly seeds: number
  readonly first: number
  readonly jobs: number
  readonly trace: boolean
  readonly listMutants: boolean
}

class UsageError extends Error {}

const SEEDS_MAX = 10_000_000

function parseCount(flag: string, text: string | undefined, min: number, max: number): number {
  if (text === undefined || !/^\d+$/.test(text)) throw new UsageError(`${flag} needs a whole number`)
  const value = Number(text)
  if (value < min || value > max) throw new UsageError(`${flag} must be between ${min} and ${max}`)
  return value
}

function parseArguments(argv: readonly string[]): Arguments {
  let seeds: number | undefined
  let first: number | undefined
  let members: 3 | 5 | undefined
  let mutantName: string | undefined
  let stack: 'core' | 'colleague' = 'core'
  let family: 'default' | 'one-submitter' = 'default'
  let steps: number | undefined
  let trace = false
  let listMutants = false
  let durable = false
  let powerCutsInSync: number | undefined
  let jobs: number | undefined
  for (let index = 0; index < argv.length; index++) {
    const flag = argv[index]
    const value = argv[index + 1]
    switch (flag) {
      case '--seeds':
        seeds = parseCount(flag, value, 1, SEEDS_MAX)
        index++
        break
      case '--seed':
        first = parseCount(flag, value, 0, 0xffffffff)
        index++
        break
      case '--members': {
        if (value !== '3' && value !== '5') throw new UsageError('--members must be 3 or 5')
        members = value === '3' ? 3 : 5
        index++
        break
      }
      case '--mutant':
        if (value === undefined) throw new UsageError('--mutant needs a name (--list-mutants shows them)')
        mutantName = value
        index++
        break
      case '--family':
        if (value !== 'default' && value !== 'one-submitter') throw new UsageError('--family must be default or one-submitter')
        family = value
        index++
        break
      case '--stack':
        if (value !== 'core' && value !== 'colleague') throw new UsageError('--stack must be core or colleague')
        stack = value
        index++
        break
      case '--steps':
        steps = parseCount(flag, value, 1, 1_000_000)
        index++
        break
      case '--jobs':
        jobs = parseCount(flag, value, 1, JOBS_MAX)
        index++
        break
      case '--trace':
        trace = true
        break
      case '--list-mutants':
        listMutants = true
        break
      case '--durable':
        durable = true
        break
      case '--power-cuts-in-sync': {
        const chance = Number(value)
        if (value === undefined || !/^(0|1|0?\.\d+)$/.test(value) || !(chance >= 0 && chance <= 1)) {
          throw new UsageError('--power-cuts-in-sync needs a chance between 0 and 1')
        }
        powerCutsInSync = chance
        index++
        break
      }
      default:
        throw new UsageError(`unknown argument ${String(flag)}`)
    }
  }
  if (durable && stack !== 'colleague') throw new UsageError('--durable needs --stack colleague')
  if (powerCutsInSync !== undefined && !durable) throw new UsageError('--power-cuts-in-sync needs --durable')
  let mutant: Mutant | undefined
  let colleagueMutant: ColleagueMutant | undefined
  let durableMutant: DurableMutant | undefined
  if (mutantName !== undefined) {
    const names: readonly string[] = stack === 'core' ? MUTANTS : durable ? [...COLLEAGUE_MUTANTS, ...DURABLE_MUTANTS] : COLLEAGUE_MUTANTS
    if (!names.includes(mutantName)) {
      throw new UsageError(`--mutant must be one of ${names.join(', ')} with --stack ${stack}${durable ? ' --durable' : ''}`)
    }
    mutant = stack === 'core' ? MUTANTS.find((name) => name === mutantName) : undefined
    colleagueMutant = stack === 'colleague' ? COLLEAGUE_MUTANTS.find((name) => name === mutantName) : undefined
    durableMutant = durable ? DURABLE_MUTANTS.find((name) => name === mutantName) : undefined
  }
  if (family !== 'default' && stack !== 'colleague') throw new UsageError('--family needs --stack colleague')
  return {
    stack,
    family,
    seeds: seeds ?? (first === undefined ? 100 : 1),
    first: first ?? 1,
    members,
    mutant,
    colleagueMutant,
    durableMutant,
    durable,
    powerCutsInSync,
    steps,
    // A trace prints each seed's events as they happen: one thread.
    jobs: trace ? 1 : (jobs ?? availableParallelism()),
    trace,
    listMutants,
  }
}

function replayCommand(seed: number, members: number, mutant: string | undefined, stack = 'core', durable = false, powerCutsInSync?: number): string {
  const mutantFlag = mutant === undefined ? '' : ` --mutant ${mutant}`
  const powerFlag = powerCutsInSync === undefined ? '' : ` --power-cuts-in-sync ${powerCutsInSync}`
  const stackFlag = stack === 'core' ? '' : ` --stack ${stack}${durable ? ` --durable${powerFlag}` : ''}`
  return `npm run simulate --${stackFlag} --seed ${seed} --members ${members}${mutantFlag} --trace`
}

async function main(argv: readonly string[]): Promise<number> {
  let args: Arguments
  try {
    args = parseArguments(argv)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`simulate: ${error.message}\n`)
    return 2
  }
  if (args.listMutants) {
    // With --durable: the storage mutants, which only a durable run can catch.
    for (const name of args.stack === 'core' ? MUTANTS : args.durable ? DURABLE_MUTANTS : COLLEAGUE_MUTANTS) process.stdout.write(`${name}\n`)
    return 0
  }
  // The worker threads start loading the simulator while this thread loads
  // it too; the clock runs from then, so the rate counts what loading it takes.
  const started = performance.now()
  const pool = args.trace ? null : startSeedPool(args, args.first, args.seeds, args.jobs)
  const simulator = await import('./seed-worker.js')
  const runAll = async (onResult: (outcome: SeedResult) => void): Promise<void> => {
    if (pool !== null) return pool.run(simulator.runSeed, onResult)
    const trace = (line: string): void => {
      process.stdout.write(`  ${line}\n`)
    }
    for (let seed = args.first; seed < args.first + args.seeds; seed++) onResult(await simulator.runSeed(args, seed, trace))
  }
  if (args.stack === 'colleague') return simulateColleagues(args, simulator, runAll, started)
  const faults = Object.fromEntries(FAULT_TYPES.map((type) => [type, 0])) as Record<FaultType, number>
  const totals = { violations: 0, failedSeeds: 0, leaderChanges: 0, enqueues: 0, acknowledged: 0, ticks: 0, quorumLost: 0, newcomers: 0 }
  await runAll((outcome) => {
    const result = (outcome as { result: SimulationResult }).result
    const { stats } = result
    for (const type of FAULT_TYPES) faults[type] += stats.faults[type]
    totals.leaderChanges += stats.leaderChanges
    totals.enqueues += stats.enqueues
    totals.acknowledged += stats.acknowledged
    totals.ticks += stats.ticks
    totals.newcomers += stats.newcomers
    if (stats.quorumLost) totals.quorumLost++
    totals.violations += result.violations.length
    if (result.violations.length > 0) totals.failedSeeds++
    for (const violation of result.violations) {
      process.stdout.write(
        `violation seed ${violation.seed} step ${violation.step} invariant ${violation.invariant}: ${violation.detail}\n` +
          `  replay: ${replayCommand(result.seed, result.members, args.mutant)}\n`,
      )
    }
  })
  const seconds = (performance.now() - started) / 1000
  const rate = seconds > 0 ? args.seeds / seconds : args.seeds
  process.stdout.write(`faults: ${FAULT_TYPES.map((type) => `${type} ${faults[type]}`).join(', ')}\n`)
  process.stdout.write(
    `leader changes ${totals.leaderChanges}, enqueues ${totals.enqueues}, acknowledged ${totals.acknowledged}, ` +
      `newcomers ${totals.newcomers}, ticks ${totals.ticks}, seeds with quorum lost ${totals.quorumLost}, seeds failed ${totals.failedSeeds}\n`,
  )
  process.stdout.write(`seeds ${args.seeds}, violations ${totals.violations}, seeds/s ${rate.toFixed(1)}\n`)
  return totals.violations === 0 ? 0 : 1
}

// A closed pipe (`| head`) ends the run quietly instead of with a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw error
})

/** `--stack colleague`: whole colleagues with the default application and workload. */
async function simulateColleagues(args: Arguments, simulator: Simulator, runAll: (onResult: (outcome: SeedResult) => void) => Promise<void>, started: number): Promise<number> {
  const { COLLEAGUE_FAULTS } = simulator
  const faults = Object.fromEntries(COLLEAGUE_FAULTS.map((type) => [type, 0])) as Record<string, number>
  const totals = { violations: 0, failedSeeds: 0, leaderChanges: 0, enqueues: 0, acknowledged: 0, waitsAborted: 0, newcomers: 0, exiles: 0, outOfBandFailures: 0, events: 0, quorumLost: 0 }
  const disks = { restarts: 0, resumed: 0, syncs: 0, lostBytes: 0, tornWrites: 0 }
  const members = args.members ?? 3
  await runAll((outcome) => {
    const result = (outcome as { result: ColleagueSimulationResult }).result
    const { stats } = result
    for (const type of COLLEAGUE_FAULTS) faults[type] = (faults[type] ?? 0) + stats.faults[type]
    totals.leaderChanges += stats.leaderChanges
    totals.enqueues += stats.enqueues
    totals.acknowledged += stats.acknowledged
    totals.waitsAborted += stats.waitsAborted
    totals.newcomers += stats.newcomers
    totals.exiles += stats.exiles
    totals.outOfBandFailures += stats.outOfBandFailures
    totals.events += stats.events
    if (stats.quorumLost) totals.quorumLost++
    if (stats.durable !== null) {
      disks.restarts += stats.durable.restarts
      disks.resumed += stats.durable.resumed
      disks.syncs += stats.durable.disk.syncs
      disks.lostBytes += stats.durable.disk.lostBytes
      disks.tornWrites += stats.durable.disk.tornWrites
    }
    totals.violations += result.violations.length
    if (result.violations.length > 0) totals.failedSeeds++
    for (const violation of result.violations) {
      process.stdout.write(
        `violation seed ${violation.seed} step ${violation.step} invariant ${violation.invariant}: ${violation.detail}\n` +
          `  replay: ${replayCommand(result.seed, members, args.colleagueMutant ?? args.durableMutant, 'colleague', args.durable, args.powerCutsInSync)}${args.family === 'default' ? '' : ` --family ${args.family}`}\n`,
      )
    }
  })
  const seconds = (performance.now() - started) / 1000
  const rate = seconds > 0 ? args.seeds / seconds : args.seeds
  process.stdout.write(`faults: ${COLLEAGUE_FAULTS.map((type) => `${type} ${faults[type]}`).join(', ')}\n`)
  process.stdout.write(
    `leader changes ${totals.leaderChanges}, enqueues ${totals.enqueues}, acknowledged ${totals.acknowledged}, aborted waits ${totals.waitsAborted}, ` +
      `newcomers ${totals.newcomers}, exiles ${totals.exiles}, out-of-band failures ${totals.outOfBandFailures}, ` +
      `events ${totals.events}, seeds with quorum lost ${totals.quorumLost}, seeds failed ${totals.failedSeeds}\n`,
  )
  if (args.durable) {
    process.stdout.write(
      `restarts ${disks.restarts} (resumed ${disks.resumed}), disk syncs ${disks.syncs}, ` +
        `unsynced bytes lost ${disks.lostBytes}, torn writes ${disks.tornWrites}\n`,
    )
  }
  process.stdout.write(`seeds ${args.seeds}, violations ${totals.violations}, seeds/s ${rate.toFixed(1)}\n`)
  return totals.violations === 0 ? 0 : 1
}

process.exitCode = await main(process.argv.slice(2))
