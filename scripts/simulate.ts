// npm run simulate -- --seeds N [--seed S] [--members 3|5] [--mutant NAME] [--steps T] [--trace]
// npm run simulate -- --list-mutants
//
// Runs seeded island simulations and prints every violation with the seed
// that replays it. The last line is always `seeds N, violations V, seeds/s R`;
// the exit status is 0 only when V is 0, and 2 for bad arguments.

import { performance } from 'node:perf_hooks'
import { MUTANTS } from '../src/paxos/types.js'
import type { Mutant } from '../src/paxos/types.js'
import { FAULT_TYPES, simulate } from '../src/testing/index.js'
import type { FaultType, SimulateOptions } from '../src/testing/index.js'

interface Arguments {
  readonly seeds: number
  readonly first: number
  readonly members: 3 | 5 | undefined
  readonly mutant: Mutant | undefined
  readonly steps: number | undefined
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
  let mutant: Mutant | undefined
  let steps: number | undefined
  let trace = false
  let listMutants = false
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
      case '--mutant': {
        const found = MUTANTS.find((name) => name === value)
        if (found === undefined) throw new UsageError(`--mutant must be one of ${MUTANTS.join(', ')}`)
        mutant = found
        index++
        break
      }
      case '--steps':
        steps = parseCount(flag, value, 1, 1_000_000)
        index++
        break
      case '--trace':
        trace = true
        break
      case '--list-mutants':
        listMutants = true
        break
      default:
        throw new UsageError(`unknown argument ${String(flag)}`)
    }
  }
  return {
    seeds: seeds ?? (first === undefined ? 100 : 1),
    first: first ?? 1,
    members,
    mutant,
    steps,
    trace,
    listMutants,
  }
}

function replayCommand(seed: number, members: number, mutant: Mutant | undefined): string {
  const mutantFlag = mutant === undefined ? '' : ` --mutant ${mutant}`
  return `npm run simulate -- --seed ${seed} --members ${members}${mutantFlag} --trace`
}

function main(argv: readonly string[]): number {
  let args: Arguments
  try {
    args = parseArguments(argv)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`simulate: ${error.message}\n`)
    return 2
  }
  if (args.listMutants) {
    for (const name of MUTANTS) process.stdout.write(`${name}\n`)
    return 0
  }
  const faults = Object.fromEntries(FAULT_TYPES.map((type) => [type, 0])) as Record<FaultType, number>
  const totals = { violations: 0, failedSeeds: 0, leaderChanges: 0, enqueues: 0, acknowledged: 0, ticks: 0, quorumLost: 0, newcomers: 0 }
  const started = performance.now()
  for (let seed = args.first; seed < args.first + args.seeds; seed++) {
    const options: SimulateOptions = {
      seed,
      ...(args.members === undefined ? {} : { members: args.members }),
      ...(args.mutant === undefined ? {} : { mutant: args.mutant }),
      ...(args.steps === undefined ? {} : { steps: args.steps }),
      ...(args.trace ? { trace: (line: string) => process.stdout.write(`  ${line}\n`) } : {}),
    }
    const result = simulate(options)
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
          `  replay: ${replayCommand(seed, result.members, args.mutant)}\n`,
      )
    }
  }
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

process.exitCode = main(process.argv.slice(2))
