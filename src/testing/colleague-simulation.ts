// The whole-colleague simulator: real `Colleague`s (their kibitzers,
// legislators, appliers, immigration, out-of-band and forwarding) and the
// user's application, on a simulated network and clock, from one seed, in one
// process, with no socket and no real timer. A setup phase founds the island
// and admits the founders through any member; a fault phase runs the workload
// while it loses, duplicates, delays and reorders requests, partitions the
// network (one way too), pauses and crashes members, admits newcomers through
// any member and restarts lost members under new ids; a liveness phase heals
// everything and requires every pending enqueue of a living member to settle.
// The invariants are checked after every step; the same seed replays exactly.
// In durable mode (durable-members.ts) every member has a storage directory
// on its own simulated disk, a lost member comes back from it as itself, and
// the whole island may crash at once.

import { Colleague, type Enqueued, type WaitOptions } from '../colleague/colleague.js'
import { isColleagueError } from '../colleague/errors.js'
import { COLLEAGUE_MUTANTS, MUTANT_OPTION, type ColleagueMutant } from '../colleague/mutants.js'
import { WATCH_OPTION, type WatchOption } from '../colleague/watch.js'
import type { Application, AppliedEntry, ColleagueOptions, JoinContext } from '../colleague/options.js'
import type { JsonValue } from '../colleague/json.js'
import type { PeerRoute, PostAnswer } from '../colleague/peer-client.js'
import { MEMBERS_MAX, parliamentOf } from '../paxos/government.js'
import { parliamentSizeFor, quorumSize } from '../paxos/quorum.js'
import type { Committed, Government } from '../paxos/types.js'
import { closureState, privateFields } from './hidden-state.js'
import { checkInteger, checkKind, checkKnown, checkObject, checkOneOf, checkSeed } from './options-check.js'
import { DURABLE_MUTANTS, DurableMembers, type DurableSimulateOptions, type DurableSimulationStats } from './durable-members.js'
import { CALM, PeerNetwork, type PeerFaults, type PeerNetworkStats } from './peer-network.js'
import { createRandom, type Random } from './prng.js'
import { MemberClock, Scheduler } from './scheduler.js'

export { COLLEAGUE_MUTANTS }
export type { ColleagueMutant }

/** What a workload may do at each step. */
export interface WorkloadApi {
  /** The living members that have joined (bootstrapped, or naturalized), by colleagueId. */
  readonly members: string[]
  /** The step about to run, counted from 1 over the whole run. */
  readonly step: number
  /**
   * `colleague.enqueue(value, options)` on that member; rejects when it is
   * not running. With a `signal`, an abort must end the wait (invariant
   * `abort`).
   */
  enqueue(memberId: string, value: unknown, options?: WaitOptions): Promise<Enqueued>
  /**
   * `colleague.barrier()` on that member; rejects when it is not running.
   * When it resolves, every enqueue acknowledged anywhere before the call
   * must be applied there (invariant `read-point`).
   */
  barrier(memberId: string, options?: WaitOptions): Promise<Enqueued>
}

/**
 * The workload's seeded random source: call it for a float in [0, 1), as
 * `Math.random()`, or use the helpers of `Random` on it (`random.int(10)`).
 */
export type WorkloadRandom = (() => number) & Random

/** Called every step of the fault and liveness phases; what it returns is ignored (a promise included). */
export type Workload = (api: WorkloadApi, random: WorkloadRandom) => unknown

function workloadRandom(random: Random): WorkloadRandom {
  const call = (): number => random.next()
  return Object.assign(call, {
    key: random.key,
    next: () => random.next(),
    int: (n: number) => random.int(n),
    chance: (p: number) => random.chance(p),
    pick: <T>(items: readonly T[]): T => random.pick(items),
    fork: (label: string) => random.fork(label),
  })
}

export type ColleagueInvariant =
  /** Two members applied different values (JSON text or submitter) at one position. */
  | 'agreement'
  /** A member applied a position at or below one it had already applied. */
  | 'prefix'
  /** Two members' application states differ at the same applied position. */
  | 'divergence'
  /** An acknowledged enqueue is not at its position, or a value was applied more often than enqueued. */
  | 'exactly-once'
  /** An enqueue was acknowledged before the member it was made on had applied it. */
  | 'applied-first'
  /** A barrier resolved on a member that had not applied an enqueue acknowledged before the barrier was called. */
  | 'read-point'
  /** A newcomer applied an entry before its state was restored. */
  | 'restore-first'
  /** A newcomer made more than one out-of-band request, or not to its arrival government's leader. */
  | 'out-of-band'
  /** A newcomer's out-of-band request failed and it did not crash. */
  | 'out-of-band-crash'
  /**
   * An enqueue whose wait was aborted before its member applied the value
   * resolved anyway, rejected with something other than the signal's reason,
   * or was still pending a step later.
   */
  | 'abort'
  /** After the faults healed with a quorum alive, a pending enqueue of a living member never settled. */
  | 'liveness'
  /**
   * Durable mode: a member started again on its directory did not come back
   * as itself (the directory lost it, or was refused at start).
   */
  | 'resume'
  /** A member stopped as an exile (or retired its directory as one), though no government committed exiles it. */
  | 'exile'
  /** The application, the colleague or the simulator threw where it must not. */
  | 'exception'

export interface ColleagueViolation {
  readonly seed: number
  readonly step: number
  readonly invariant: ColleagueInvariant
  readonly detail: string
}

export const COLLEAGUE_FAULTS = [
  'loss',
  'duplicate',
  'delay',
  'reorder',
  'partition',
  'one-way',
  'isolate-leader',
  'heal',
  'pause',
  'long-pause',
  'crash',
  'crash-beyond-quorum',
  'newcomer',
  'newcomer-then-leader-fault',
  'restart',
  /** Durable mode: every process crashes at once (a power cut of the whole island), then each restarts. */
  'island-crash',
  /** Durable mode: a lost member started again on its directory and resumed as itself. */
  'restart-from-disk',
  /** Durable mode: a member came back after being exiled while down, and crashed with EXILED. */
  'exiled-while-down',
  /** Durable mode: the power went at a member while it synced (what its flush sent before the sync still arrives). */
  'power-cut-in-sync',
] as const
export type ColleagueFault = (typeof COLLEAGUE_FAULTS)[number]
/** Crashes beyond quorum and restarts are not drawn: they are counted when a drawn fault leads to one. */
type DrawnFault = Exclude<ColleagueFault, 'crash-beyond-quorum' | 'restart' | 'restart-from-disk' | 'exiled-while-down' | 'power-cut-in-sync'>

export interface ColleagueSimulateOptions {
  readonly seed: number
  /** Founding members; default 3. */
  readonly members?: number
  /** Steps of the fault phase (one step is one kibitzer tick, 10 simulated ms); default 500. */
  readonly steps?: number
  /** Builds each member's application; default a small replicated counter with a snapshot. */
  readonly application?: (id: string) => Application
  /** Called every step of the fault and liveness phases; default a light random enqueue load. */
  readonly workload?: Workload
  /** Inject faults during the fault phase (default true); false runs the workload on a calm network. */
  readonly faults?: boolean
  /** Members (by colleagueId) the faults never crash, pause or cut off long enough to exile. */
  readonly spare?: readonly string[]
  /** Steps the island gets to settle every pending enqueue once the faults heal; default 600. */
  readonly livenessSteps?: number
  /** Odd limit on the parliament; default 5. */
  readonly parliamentSize?: number
  /** Stop at the first violation (default true). */
  readonly stopAtFirstViolation?: boolean
  /**
   * While the run lasts, `Date.now()`, `new Date()`, `performance.now()`,
   * `Intl.DateTimeFormat`'s `format()`/`formatToParts()` given no date and
   * `Math.random()` read the simulated clock and the seed (default true), so
   * an application that reads them in `entry` diverges, and the seed replays
   * it. The wall clock starts a few seconds before a new year, and each
   * member's is a little off while its `entry()` runs.
   */
  readonly virtualGlobals?: boolean
  /**
   * Compare, besides `snapshot()` and the application object's own fields,
   * the state they do not show, read through the inspector: the variables a
   * user's `entry` closes over and the application object's private
   * `#fields`. Among members at the same applied position at the same
   * moment, every 250 steps and once more at the end of the run; and a
   * newcomer just after its `restore()` with the leader when it took the
   * snapshot (not in durable mode). Default true; it applies to an
   * `application` passed in, not to the simulator's own.
   */
  readonly hiddenState?: boolean
  /**
   * More options for each member's `new Colleague(...)`: the seam for what a
   * member keeps across its process (a simulated disk for durable mode).
   */
  readonly memberOptions?: (id: string, random: Random) => Partial<ColleagueOptions>
  /** Called when the simulator kills a member's process (a disk drops what it had not synced). */
  readonly onCrash?: (id: string) => void
  /**
   * Durable mode (`true`, or its settings): each member gets a storage
   * directory on its own simulated disk; a crash loses what it had not synced
   * (and may tear the last write), a lost member starts again on its
   * directory as itself after a seeded delay, and whole-island crashes are
   * among the faults. Acknowledged enqueues must then survive the loss of
   * every process. The application needs `snapshot` and `restore`.
   */
  readonly durable?: boolean | DurableSimulateOptions
  /** A deliberately broken colleague, to show the invariants bite. */
  readonly mutant?: ColleagueMutant
  /** One line per notable event, to replay a seed by hand. */
  readonly trace?: (line: string) => void
}

export interface ColleagueSimulationStats {
  members: number
  steps: number
  events: number
  simulatedMs: number
  enqueues: number
  acknowledged: number
  enqueueRejections: number
  /** Enqueues whose waits a signal aborted while they were pending (the default workload aborts some). */
  waitsAborted: number
  applied: number
  leaderChanges: number
  newcomers: number
  naturalized: number
  crashes: number
  exiles: number
  outOfBand: number
  outOfBandFailures: number
  faults: Record<ColleagueFault, number>
  /** Every pending enqueue settled once the faults healed. */
  settled: boolean
  /** A quorum of the parliament was lost for good, so liveness was not required. */
  quorumLost: boolean
  network: PeerNetworkStats
  /** Durable mode only: restarts and what the disks lost. */
  durable: DurableSimulationStats | null
}

export interface ColleagueSimulationResult {
  readonly seed: number
  readonly violations: readonly ColleagueViolation[]
  readonly stats: ColleagueSimulationStats
}

const TIMING = { pingMs: 50, timeoutMs: 250, joinTimeoutMs: 4_000, outOfBandTimeoutMs: 1_000 } as const
/** Distinct parliaments remembered per proposed government number. */
const PROPOSALS_PER_NUMBER_MAX = 8
/** One step: one kibitzer tick (pingMs / 5). */
const STEP_MS = 10
/** Microtask turns granted after each instant within a step. */
const MICROTASK_TURNS = 4
/** Microtask turns granted at the end of a step, before the checks. */
const SETTLE_TURNS = 8
/** Steps between two turns of the event loop when nothing asks for one sooner. */
const YIELD_STEPS = 64
/** Real milliseconds a step waits, at most, for application callbacks waiting on real I/O (see `#awaitApplying`). */
const APPLYING_WAIT_MS = 1_000
/** Real milliseconds a run waits for them, in all: past it, steps go on without waiting. */
const APPLYING_WAIT_BUDGET_MS = 20_000
/** The request type of each peer route, as the HTTP handler maps them. */
const REQUEST_TYPE: Readonly<Record<PeerRoute, string>> = { '/kibitz': 'kibitz', '/join': 'join', '/oob': 'oob' }
/**
 * What a step awaits to give the colleagues a microtask turn: awaiting a
 * settled native promise takes one turn, as awaiting a plain value does,
 * without making a promise each time.
 */
const TURN = Promise.resolve()

const DEFAULTS = {
  members: 3,
  steps: 500,
  livenessSteps: 600,
  setupSteps: 600,
  parliamentSize: 5,
  faultRate: 0.08,
  /** Partitions heal by themselves after 3 to this many steps (short of an exile, 2 x timeout). */
  partitionStepsMax: 40,
  pauseStepsMax: 30,
  /** With spare members, partitions in a row heal within this many steps, well short of an exile. */
  sparePartitionStepsMax: 30,
  /** A long pause outlasts the exile time. */
  longPauseSteps: [60, 120] as const,
  beyondQuorumRate: 0.03,
  /** Chance per step that a lost member is replaced by a newcomer, as a supervisor would restart it. */
  restartRate: 0.04,
  newcomersPerSteps: 40,
  /** Application states remembered per applied position, for comparing members. */
  statesMax: 4096,
  /** Leaders' readings at the snapshots they took for newcomers, kept for the newcomers' restores. */
  snapshotReadingsMax: 16,
  /** Steps between two comparisons of the state an application hides (see `hiddenState`). */
  hiddenStateEverySteps: 250,
  /** Quiet steps after the run, at most, for the living members to reach one applied position. */
  alignSteps: 100,
  /** The share of the default workload's enqueues whose wait it aborts, 1 to `abortStepsMax` steps later. */
  abortShare: 0.1,
  abortStepsMax: 8,
} as const

const FAULT_WEIGHTS: ReadonlyArray<readonly [DrawnFault, number]> = [
  ['loss', 2],
  ['duplicate', 1],
  ['delay', 2],
  ['reorder', 1],
  ['partition', 2],
  ['one-way', 1],
  ['isolate-leader', 3],
  ['heal', 3],
  ['pause', 2],
  ['long-pause', 1],
  ['crash', 2],
  ['newcomer', 2],
  ['newcomer-then-leader-fault', 2],
]
/** Durable mode draws whole-island crashes too. */
const DURABLE_FAULT_WEIGHTS: ReadonlyArray<readonly [DrawnFault, number]> = [...FAULT_WEIGHTS, ['island-crash', 1]]
/** Durable mode: a member lost beyond quorum comes back, so such crashes are drawn far more often. */
const DURABLE_BEYOND_QUORUM_RATE = 0.3

interface Pending {
  readonly text: string | undefined
  /**
   * Its wait was aborted before its member had applied the value, with this
   * reason at this step: it must not resolve, and must reject with the
   * reason by the end of the next step.
   */
  abortedUnapplied?: { readonly reason: unknown; readonly step: number }
}

interface Member {
  readonly id: string
  readonly location: string
  readonly clock: MemberClock
  readonly colleague: Colleague
  readonly application: Application
  /** Joined after the setup, or started again on its directory: it applies nothing before its state is restored. */
  readonly newcomer: boolean
  /** Founded the island: a supervisor starts it again with bootstrap(), the others with join(). */
  readonly founder: boolean
  /** Durable mode: processes started so far under this id (1 for the first). */
  readonly incarnation: number
  /** The members' locations it joined through, which a supervisor passes again. */
  via: string | readonly string[] | null
  /**
   * Durable mode: this id held the state at the end of a step (bootstrapped,
   * naturalized or resumed), so its directory holds it from then on.
   */
  established: boolean
  /** Durable mode: it came back after the island exiled it. */
  exiledWhileDown: boolean
  /** The process runs (not killed by the simulator, not crashed by the colleague). */
  running: boolean
  /** Bootstrapped or naturalized: in the island, taking enqueues. */
  joined: boolean
  /** The application restores a state (no custom join): nothing may be applied before. */
  readonly restores: boolean
  restored: boolean
  /** Highest position fully applied (value entries). */
  applied: number
  /**
   * The number of the latest government handed to its application. With
   * `applied`, what it applied of the log: an application may keep what
   * `government()` hands it, so two members compare states only where both
   * are the same (see `stateAt`).
   */
  governed: number
  /**
   * The first position this process's legislator committed: a newcomer's
   * arrival, or where a member restarted from its directory resumed. Its
   * restored state holds every position before it.
   */
  firstCommitted: number | null
  /** Entries handed to the application and not yet finished. */
  applying: number
  /** `stateAt` when its state was last compared. */
  comparedAt: string
  outOfBandRequests: number
  /** Set when its out-of-band request failed: it must crash. */
  outOfBandFailedStep: number | null
  /** An out-of-band request of its failed (the crash that follows is by design). */
  outOfBandFailed: boolean
  readonly pending: Set<Pending>
  /** The JSON texts of its own values this process handed its application: an enqueue may resolve once its value is here. */
  readonly ownApplied: Set<string>
  /** How far its clock is off the simulated time, read while its `entry()` runs. */
  readonly skewMs: number
  /** Where its application held its own id when it was built (see `idMarks`): there, each member's own id is the same state. */
  readonly marks: ReadonlySet<string>
}

interface LogRecord {
  readonly from: string
  readonly text: string
}

/**
 * Runs one seeded island of real colleagues; the same options give the same
 * result. Runs called together in one thread take turns, each starting once
 * the one before ended: they share the process's Date, performance.now and
 * Math.random, and one run's application reading them while another moves
 * would not replay. (Worker threads each have their own.)
 */
export function simulate(options: ColleagueSimulateOptions): Promise<ColleagueSimulationResult> {
  try {
    checkOptions(options)
  } catch (error) {
    return Promise.reject(error)
  }
  const run = turns.then(() => runAlone(options))
  turns = run.then(
    () => undefined,
    () => undefined,
  )
  return run
}

/** The run under way, or the last: the next starts once it ended. */
let turns: Promise<void> = Promise.resolve()

async function runAlone(options: ColleagueSimulateOptions): Promise<ColleagueSimulationResult> {
  const simulation = new ColleagueSimulation(options)
  const restore = options.virtualGlobals === false ? () => {} : virtualizeGlobals(simulation.globals)
  // A promise the application (or a colleague) let reject unhandled would end
  // the process, without the seed that shows it: it is a violation of the
  // run that moved last (of this one, if that run is over).
  const onUnhandled = (reason: unknown): void => {
    if (moving === simulation.globals || moving === null || !underWay.has(moving)) simulation.unhandled(reason)
  }
  underWay.add(simulation.globals)
  process.on('unhandledRejection', onUnhandled)
  try {
    await simulation.run()
  } finally {
    process.off('unhandledRejection', onUnhandled)
    underWay.delete(simulation.globals)
    restore()
  }
  return { seed: options.seed, violations: simulation.violations, stats: simulation.stats }
}

/** The virtual globals of the runs under way, to tell whose a rejection nobody handled is. */
const underWay = new Set<VirtualGlobals>()

const SIMULATE_OPTIONS: ReadonlyArray<keyof ColleagueSimulateOptions> = [
  'seed', 'members', 'steps', 'application', 'workload', 'faults', 'spare', 'livenessSteps', 'parliamentSize',
  'stopAtFirstViolation', 'virtualGlobals', 'hiddenState', 'memberOptions', 'onCrash', 'durable', 'mutant', 'trace',
]
const DURABLE_OPTIONS: ReadonlyArray<keyof DurableSimulateOptions> = ['exileMs', 'snapshotEveryEntries', 'islandCrashes', 'powerCutsInSync', 'mutant']

/** What `application(id)` built: misuse, not a finding about the island, is refused as the options are. */
function checkedApplication(id: string, application: unknown): Application {
  if (application !== null && typeof application === 'object' && typeof (application as Application).entry === 'function') {
    return application as Application
  }
  const got = application === null ? 'null' : typeof application === 'object' ? 'an object without entry()' : typeof application
  throw new TypeError(`application(${JSON.stringify(id)}) must return an application with an entry function, got ${got}`)
}

/** Refuses options a program passed wrong, before anything runs (see options-check.ts). */
function checkOptions(options: ColleagueSimulateOptions): void {
  checkObject(options, 'simulate()')
  checkKnown(options, SIMULATE_OPTIONS, 'simulate()')
  checkSeed(options)
  checkInteger(options, 'members', 1, MEMBERS_MAX)
  checkInteger(options, 'steps', 0, Number.MAX_SAFE_INTEGER)
  checkInteger(options, 'livenessSteps', 0, Number.MAX_SAFE_INTEGER)
  checkInteger(options, 'parliamentSize', 1, MEMBERS_MAX, true)
  for (const name of ['application', 'workload', 'memberOptions', 'onCrash', 'trace']) checkKind(options, name, 'function')
  for (const name of ['faults', 'stopAtFirstViolation', 'virtualGlobals', 'hiddenState']) checkKind(options, name, 'boolean')
  checkOneOf(options, 'mutant', COLLEAGUE_MUTANTS)
  const { spare, durable } = options
  if (spare !== undefined && !(Array.isArray(spare) && spare.every((id) => typeof id === 'string'))) {
    throw new TypeError('spare must be an array of member ids')
  }
  if (durable === undefined || typeof durable === 'boolean') return
  if (durable === null || typeof durable !== 'object') throw new TypeError(`durable must be true, false or its settings, got ${typeof durable}`)
  checkKnown(durable, DURABLE_OPTIONS, 'durable')
  const { exileMs, powerCutsInSync } = durable
  if (exileMs !== undefined && !(typeof exileMs === 'number' && Number.isFinite(exileMs) && exileMs > 0)) {
    throw new RangeError(`exileMs must be a positive number of milliseconds, got ${String(exileMs)}`)
  }
  if (powerCutsInSync !== undefined && !(typeof powerCutsInSync === 'number' && powerCutsInSync >= 0 && powerCutsInSync <= 1)) {
    throw new RangeError(`powerCutsInSync must be a chance from 0 to 1, got ${String(powerCutsInSync)}`)
  }
  checkInteger(durable, 'snapshotEveryEntries', 1, Number.MAX_SAFE_INTEGER)
  checkKind(durable, 'islandCrashes', 'boolean')
  checkOneOf(durable, 'mutant', DURABLE_MUTANTS)
}

interface VirtualGlobals {
  /** Simulated milliseconds since the run began. */
  now(): number
  random(): number
  /** The wall time the run began at, in milliseconds since the epoch: a few seconds before a new year (from the seed). */
  readonly epoch: number
  /** The clock error of the member whose `entry()` runs now (0 outside one): machines' clocks differ a little. */
  skewMs: number
}

/** The simulated wall clock starts this long, at least, before a new year... */
const EPOCH_LEAD_MS_MIN = 1_000
/** ...and less than this: the first seconds of a run cross a second, minute, hour, day, month and year. */
const EPOCH_LEAD_MS_SPAN = 3_000
/** A member's clock is off the simulated time by up to this much either way, while its `entry()` runs. */
const CLOCK_SKEW_MS_MAX = 50

/** Runs under way that read the virtual globals, and the one that moved last (runs may interleave). */
let virtualized = 0
let moving: VirtualGlobals | null = null
let undoGlobals: (() => void) | null = null

/**
 * Points Date, performance.now and Math.random at the simulations under way;
 * the last run to finish puts the real ones back.
 */
function virtualizeGlobals(globals: VirtualGlobals): () => void {
  moving = globals
  if (virtualized++ === 0) {
    const RealDate = Date
    const realRandom = Math.random
    const ownNow = Object.getOwnPropertyDescriptor(performance, 'now')
    const format = Object.getOwnPropertyDescriptor(Intl.DateTimeFormat.prototype, 'format')
    const formatsNow = new WeakMap<Intl.DateTimeFormat, (date?: Date | number) => string>()
    const formatToParts = Object.getOwnPropertyDescriptor(Intl.DateTimeFormat.prototype, 'formatToParts')
    const now = (): number => moving?.now() ?? 0
    // The wall clock of the member whose entry() runs: off by its skew (performance.now() stays the island's, monotonic).
    const wallNow = (): number => (moving === null ? 0 : moving.epoch + moving.now() + moving.skewMs)
    class SimulatedDate extends RealDate {
      constructor(...args: unknown[]) {
        if (args.length === 0) super(wallNow())
        else super(...(args as [string]))
      }
      static override now(): number {
        return Math.floor(wallNow())
      }
    }
    // Called without `new`, Date() gives the time as text; a class alone would throw there.
    globalThis.Date = new Proxy(SimulatedDate, { apply: () => new RealDate(wallNow()).toString() }) as DateConstructor
    Math.random = () => moving?.random() ?? realRandom()
    Object.defineProperty(performance, 'now', { value: now, configurable: true, writable: true })
    // Intl formats "now" from the machine's own clock when given no date: it is told the simulated one.
    const getFormat = format?.get
    if (format !== undefined && getFormat !== undefined) {
      Object.defineProperty(Intl.DateTimeFormat.prototype, 'format', {
        ...format,
        get(this: Intl.DateTimeFormat) {
          // One function per formatter, as the getter gives natively.
          let formatNow = formatsNow.get(this)
          if (formatNow === undefined) {
            const bound = getFormat.call(this) as (date?: Date | number) => string
            formatNow = (date?: Date | number) => bound(date === undefined ? wallNow() : date)
            formatsNow.set(this, formatNow)
          }
          return formatNow
        },
      })
    }
    const realFormatToParts = formatToParts?.value as ((this: Intl.DateTimeFormat, date?: Date | number) => Intl.DateTimeFormatPart[]) | undefined
    if (formatToParts !== undefined && realFormatToParts !== undefined) {
      Object.defineProperty(Intl.DateTimeFormat.prototype, 'formatToParts', {
        ...formatToParts,
        value: function formatToParts(this: Intl.DateTimeFormat, date?: Date | number) {
          return realFormatToParts.call(this, date === undefined ? wallNow() : date)
        },
      })
    }
    undoGlobals = () => {
      globalThis.Date = RealDate
      Math.random = realRandom
      if (ownNow !== undefined) Object.defineProperty(performance, 'now', ownNow)
      else delete (performance as { now?: unknown }).now
      if (format !== undefined) Object.defineProperty(Intl.DateTimeFormat.prototype, 'format', format)
      if (formatToParts !== undefined) Object.defineProperty(Intl.DateTimeFormat.prototype, 'formatToParts', formatToParts)
    }
  }
  let undone = false
  return () => {
    if (undone) return
    undone = true
    if (--virtualized > 0) return
    moving = null
    undoGlobals?.()
    undoGlobals = null
  }
}

class ColleagueSimulation {
  readonly violations: ColleagueViolation[] = []
  readonly stats: ColleagueSimulationStats
  readonly #options: ColleagueSimulateOptions
  readonly #seed: number
  readonly #random: Random
  readonly #actions: Random
  readonly #workloadRandom: WorkloadRandom
  readonly #scheduler = new Scheduler()
  readonly #network: PeerNetwork
  readonly #members = new Map<string, Member>()
  readonly #byLocation = new Map<string, Member>()
  readonly #application: (id: string) => Application
  /** The application is the user's, not the simulator's own. */
  readonly #userApplication: boolean
  /** Whether the state a user's application hides from `snapshot()` and its fields is compared (see `hiddenState`). */
  #hidden: boolean
  readonly #workload: Workload
  readonly #abortRandom: Random
  /** Waits the default workload gives up on, at a step. */
  #aborts: Array<{ readonly step: number; readonly controller: AbortController }> = []
  /** Enqueues aborted before their member applied the value, until they settle: each must reject by the end of the next step. */
  #abortedWaits: Array<{ readonly member: Member; readonly pending: Pending }> = []
  readonly #spare: ReadonlySet<string>
  readonly #governments = new Map<string, Government>()
  /**
   * The members exiled by a government some member's legislator committed
   * (it may not be applied anywhere yet). Only such a government makes an
   * exile: a member that stops as one, or retires its directory, must be in it.
   */
  readonly #chosenExiles = new Set<string>()
  readonly #log = new Map<number, LogRecord>()
  /** Submitter and value text to [enqueue calls, positions applied]. */
  readonly #counts = new Map<string, [number, number]>()
  /** Positions of acknowledged enqueues. */
  readonly #acknowledgedAt = new Set<number>()
  /** The highest position of an acknowledged enqueue so far: a barrier called now must reach it. */
  #acknowledgedMax = -1
  readonly #durable: DurableMembers | null
  /** What a member applied (`stateAt`) to the application state (fingerprint) first seen there. */
  readonly #states = new Map<string, { member: string; text: string; marks: ReadonlySet<string> }>()
  /** See `#noteSnapshot`. */
  readonly #snapshotReadings: SnapshotReading[] = []
  /** Checks of a newcomer's restore under way: they call its snapshot(), which may wait on real I/O. */
  #checking = 0
  #latest: Government | null = null
  /**
   * Governments seen proposed on the wire past the latest applied one: any
   * of them may already be chosen, so a crash must keep their quorums too.
   */
  readonly #proposed = new Map<number, Government[]>()
  #leader: string | null = null
  #step = 0
  #nextId = 1
  #healStep = 0
  /** The step since which some partition has been in place; -1 while none is. */
  #partitionedSince = -1
  #pendingLeaderFault = -1
  /** Real milliseconds waited so far for application callbacks on real I/O. */
  #waitedMs = 0
  /** In the fault phase with faults on: durable mode may cut a member's power in the middle of a sync. */
  #faulting = false

  constructor(options: ColleagueSimulateOptions) {
    this.#options = options
    this.#seed = options.seed
    this.#random = createRandom(options.seed)
    this.#actions = this.#random.fork('actions')
    this.#workloadRandom = workloadRandom(this.#random.fork('workload'))
    this.#abortRandom = this.#random.fork('aborts')
    this.#network = new PeerNetwork(this.#scheduler, this.#random.fork('network'))
    const globalRandom = this.#random.fork('globals')
    const epoch = Date.UTC(2031, 0, 1) - EPOCH_LEAD_MS_MIN - this.#random.fork('epoch').int(EPOCH_LEAD_MS_SPAN)
    this.globals = { now: () => this.#scheduler.now, random: () => globalRandom.next(), epoch, skewMs: 0 }
    this.#network.observer = { posted: (from, to, route, body) => this.#onPosted(from, to, route, body) }
    this.#application = options.application ?? counterApplication
    this.#userApplication = options.application !== undefined
    this.#hidden = this.#userApplication && options.hiddenState !== false
    this.#workload = options.workload ?? defaultWorkload
    this.#spare = new Set(options.spare ?? [])
    const durable = options.durable ?? false
    this.#durable = durable === false ? null : new DurableMembers(durable === true ? {} : durable, this.#random.fork('durable'))
    if (this.#durable !== null) {
      this.#durable.cutPower = (id) => this.#cutPowerDuringSync(id)
      this.#network.sentOutlivesSender = true
    }
    const faults = {} as Record<ColleagueFault, number>
    for (const type of COLLEAGUE_FAULTS) faults[type] = 0
    this.stats = {
      members: options.members ?? DEFAULTS.members,
      steps: 0,
      events: 0,
      simulatedMs: 0,
      enqueues: 0,
      acknowledged: 0,
      enqueueRejections: 0,
      waitsAborted: 0,
      applied: 0,
      leaderChanges: 0,
      newcomers: 0,
      naturalized: 0,
      crashes: 0,
      exiles: 0,
      outOfBand: 0,
      outOfBandFailures: 0,
      faults,
      settled: false,
      quorumLost: false,
      network: this.#network.stats,
      durable: null,
    }
  }

  /** What `Date`, `performance.now` and `Math.random` read while this run is the one moving. */
  readonly globals: VirtualGlobals

  async run(): Promise<void> {
    if (await this.#setup()) {
      await this.#faultPhase()
      if (!this.#stopped()) await this.#livenessPhase()
      if (!this.#stopped()) await this.#finalHiddenState()
    }
    this.stats.steps = this.#step
    this.stats.events = this.#scheduler.ran
    this.stats.simulatedMs = this.#scheduler.now
    this.stats.durable = this.#durable?.stats ?? null
    for (const member of this.#members.values()) member.clock.dead = true
  }

  // ------------------------------------------------------------------ phases

  async #setup(): Promise<boolean> {
    const founder = this.#addMember(false)
    founder.colleague.bootstrap().catch((error: unknown) => this.#report('exception', `bootstrap failed: ${text(error)}`))
    let joining = false
    for (let step = 0; step < DEFAULTS.setupSteps && !this.#stopped(); step++) {
      if (!joining && founder.joined) {
        joining = true
        for (let index = 1; index < this.stats.members; index++) this.#join(this.#addMember(false))
      }
      await this.#runStep(false)
      if (this.#formed()) {
        this.#trace('setup: parliament formed')
        return true
      }
    }
    if (!this.#stopped()) this.#report('liveness', `setup: no parliament of ${this.stats.members} after ${DEFAULTS.setupSteps} steps`)
    return false
  }

  #formed(): boolean {
    const government = this.#latest
    if (government === null) return false
    // A parliament is odd: 2 members form one of 1, 4 of 3.
    const expected = parliamentSizeFor(this.stats.members, this.#options.parliamentSize ?? DEFAULTS.parliamentSize)
    if (parliamentOf(government).length !== expected) return false
    return [...this.#members.values()].every((member) => member.running && member.colleague.naturalized())
  }

  async #faultPhase(): Promise<void> {
    const steps = this.#options.steps ?? DEFAULTS.steps
    const faults = this.#options.faults ?? true
    this.#faulting = faults
    for (let step = 0; step < steps && !this.#stopped(); step++) {
      this.#restartDue(false)
      if (faults) {
        if (this.#actions.chance(DEFAULTS.faultRate)) this.#injectFault()
        else if (this.#understaffed() && this.#actions.chance(DEFAULTS.restartRate) && this.#admitNewcomer()) {
          this.stats.faults.restart++
        }
        if (this.#network.partitioned && this.#step >= this.#healStep) {
          this.#heal()
          this.#trace('partitions expire')
        }
        if (this.#pendingLeaderFault === this.#step) this.#applyFault('isolate-leader')
      }
      await this.#runStep(true)
    }
  }

  async #livenessPhase(): Promise<void> {
    this.#faulting = false
    this.#restartDue(true)
    this.#heal()
    this.#network.setFaults(CALM)
    for (const member of this.#members.values()) member.clock.pausedUntil = 0
    this.#trace('liveness: healed')
    const healedAt = this.#scheduler.now
    for (const member of this.#living()) {
      if (!member.joined) continue
      // A value of the simulator's own would reach a user's application, which must see only what its
      // workload enqueued: there the probe is a barrier, which goes through the leader's log like a
      // value and is never applied. The simulator's own application takes a marker value.
      if (this.#userApplication) this.#probe(member)
      else this.#enqueue(member, { liveness: member.id })
    }
    const steps = this.#options.livenessSteps ?? DEFAULTS.livenessSteps
    let unsettled = this.#unsettled()
    for (let step = 0; step < steps && unsettled !== null && !this.#stopped(); step++) {
      await this.#runStep(true)
      unsettled = this.#unsettled()
    }
    if (this.#stopped()) return
    if (unsettled === null) {
      this.stats.settled = true
      this.#trace('liveness: every pending enqueue settled')
      return
    }
    // An entry() under way since before the faults healed, through the whole phase, is the
    // application's own stall, whatever the island lost: never excused.
    const stalledMs = this.#scheduler.now - healedAt
    const stalled = this.#living().some((member) => (member.colleague.health().applying?.forMs ?? -1) >= stalledMs)
    // In durable mode every lost member is back: the island must go on, whatever it lost.
    if (!stalled && this.#durable === null && (!this.#quorumAlive(null) || !this.#chainAlive())) {
      this.stats.quorumLost = true
      this.#trace(`liveness: quorum lost for good, not required (${unsettled})`)
      return
    }
    this.#report('liveness', `${steps} steps after the faults healed: ${unsettled}; ${this.#describeLiving()}`)
  }

  /** Null once every living member's enqueues settled and no newcomer is still joining, else what is missing. */
  #unsettled(): string | null {
    for (const member of this.#living()) {
      if (member.pending.size > 0) return `${member.id} has ${member.pending.size} pending enqueue(s)`
      if (!member.joined) return `${member.id} is still joining`
      if (this.#durable !== null && this.#latest?.exiled.includes(member.id) === true) return `${member.id} was exiled and still runs`
    }
    return null
  }

  // ------------------------------------------------------------------ steps

  async #runStep(withWorkload: boolean): Promise<void> {
    this.#step++
    moving = this.globals
    this.#abortDue()
    if (withWorkload) this.#runWorkload()
    const until = this.#scheduler.now + STEP_MS
    // Between the instants of a step, a few microtask turns let short promise
    // chains (an answer's continuation) finish; anything longer finishes by
    // the step's end, or later, as on a slow process. Either way it is the
    // same each run. Everything the colleagues do runs on the simulated clock
    // and on microtasks, so the event loop need not turn for a step.
    for (let turn = 0; turn < MICROTASK_TURNS; turn++) await TURN
    moving = this.globals
    while (this.#scheduler.runInstant(until)) {
      for (let turn = 0; turn < MICROTASK_TURNS; turn++) await TURN
      moving = this.globals
    }
    for (let turn = 0; turn < SETTLE_TURNS; turn++) await TURN
    if (this.#step % YIELD_STEPS === 0 || this.#applying()) await this.#drain()
    if (this.#applying()) await this.#awaitApplying()
    moving = this.globals
    this.#observeLeader()
    await this.#check()
  }

  /**
   * Lets every promise continuation settle, and the event loop turn: for an
   * application whose callbacks wait on real I/O, and for the process around.
   */
  #drain(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve))
  }

  /**
   * An application callback still under way once the event loop turned waits
   * on real I/O (a file, a database, a timer): the step waits for it in real
   * time, as its process would go on meanwhile, so that where it ends in the
   * run does not depend on how fast this machine is. At most
   * APPLYING_WAIT_MS a step and APPLYING_WAIT_BUDGET_MS a run: a callback
   * that never settles then shows as the violation liveness.
   */
  async #awaitApplying(): Promise<void> {
    const start = realMs()
    const deadline = start + Math.min(APPLYING_WAIT_MS, APPLYING_WAIT_BUDGET_MS - this.#waitedMs)
    for (let turn = 0; this.#applying() && realMs() < deadline; turn++) {
      // A few turns of the event loop for I/O that is about done, then a millisecond at a time (a timer's).
      await (turn < 10 ? this.#drain() : new Promise((resolve) => setTimeout(resolve, 1)))
    }
    this.#waitedMs += realMs() - start
  }

  /** Whether an application callback is still under way on a living member. */
  #applying(): boolean {
    if (this.#checking > 0) return true
    for (const member of this.#members.values()) if (member.running && member.applying > 0) return true
    return false
  }

  #runWorkload(): void {
    const api: WorkloadApi = {
      members: this.#joined().map((member) => member.id),
      step: this.#step,
      enqueue: (memberId, value, options) => {
        const member = this.#members.get(memberId)
        if (member === undefined || !member.running) return Promise.reject(new Error(`member ${memberId} is not running`))
        return this.#enqueue(member, value, options ?? this.#abortLater())
      },
      barrier: (memberId, options) => {
        const member = this.#members.get(memberId)
        if (member === undefined || !member.running) return Promise.reject(new Error(`member ${memberId} is not running`))
        return this.#barrier(member, options)
      },
    }
    try {
      this.#workload(api, this.#workloadRandom)
    } catch (error) {
      this.#report('exception', `the workload threw: ${text(error)}`)
    }
  }

  /**
   * A barrier through `member`, pending until it settles: the island commits
   * through it. Held to the read point as a workload's barrier is (`#barrier`
   * handles its rejection).
   */
  #probe(member: Member): void {
    void this.#barrier(member)
  }

  /**
   * The default workload gives up on some of its waits: a signal it aborts a
   * few steps on (drawn from a stream of its own, so that the run is the
   * same as without it). A user's workload passes its own signals.
   */
  #abortLater(): WaitOptions | undefined {
    if (this.#workload !== defaultWorkload || !this.#abortRandom.chance(DEFAULTS.abortShare)) return undefined
    const controller = new AbortController()
    this.#aborts.push({ step: this.#step + 1 + this.#abortRandom.int(DEFAULTS.abortStepsMax), controller })
    return { signal: controller.signal }
  }

  /** Aborts the waits due at this step. */
  #abortDue(): void {
    if (this.#aborts.length === 0) return
    const due = this.#aborts.filter((abort) => abort.step <= this.#step)
    if (due.length === 0) return
    this.#aborts = this.#aborts.filter((abort) => abort.step > this.#step)
    for (const { controller } of due) controller.abort(new Error('the workload gave up waiting'))
  }

  #enqueue(member: Member, value: unknown, options?: WaitOptions): Promise<Enqueued> {
    let valueText: string | undefined
    try {
      valueText = JSON.stringify(value)
    } catch {
      valueText = undefined
    }
    // The simulator may enqueue what is not JSON on purpose: the colleague must refuse it at run time.
    const enqueued = member.colleague.enqueue(value as JsonValue, options)
    const pending: Pending = { text: valueText }
    member.pending.add(pending)
    const signal = options?.signal
    if (signal instanceof AbortSignal && !signal.aborted) {
      // Once aborted, the wait may still resolve only if the value was applied here before (the colleague resolved it then).
      signal.addEventListener('abort', () => {
        if (!member.pending.has(pending)) return
        this.stats.waitsAborted++
        if (valueText !== undefined && member.ownApplied.has(valueText)) return
        pending.abortedUnapplied = { reason: signal.reason, step: this.#step }
        this.#abortedWaits.push({ member, pending })
      }, { once: true })
    }
    this.stats.enqueues++
    if (valueText !== undefined) this.#count(member.id, valueText)[0]++
    enqueued.then(
      (result) => {
        member.pending.delete(pending)
        this.stats.acknowledged++
        if (pending.abortedUnapplied !== undefined) {
          this.#report('abort', `${member.id}'s enqueue of ${clip(valueText)} resolved at ${result.position} after its wait was aborted, before it applied the value`)
        }
        this.#checkAcknowledged(member, pending, result)
      },
      (error: unknown) => {
        member.pending.delete(pending)
        this.stats.enqueueRejections++
        const aborted = pending.abortedUnapplied
        if (aborted !== undefined && error !== aborted.reason) {
          this.#report('abort', `${member.id}'s aborted enqueue of ${clip(valueText)} rejected with ${text(error)}, not with its signal's reason ${text(aborted.reason)}`)
        }
      },
    )
    return enqueued
  }

  #count(from: string, valueText: string): [number, number] {
    const key = `${from}\u0000${valueText}`
    let count = this.#counts.get(key)
    if (count === undefined) {
      count = [0, 0]
      this.#counts.set(key, count)
    }
    return count
  }

  /**
   * A workload's barrier through `member`, pending until it settles. Once it
   * resolves, the member must hold every enqueue acknowledged before the
   * call: applied by this process, or in the state it restored.
   */
  #barrier(member: Member, options?: WaitOptions): Promise<Enqueued> {
    const before = this.#acknowledgedMax
    const pending: Pending = { text: undefined }
    member.pending.add(pending)
    const barrier = member.colleague.barrier(options)
    barrier.then(
      (result) => {
        member.pending.delete(pending)
        const restored = member.restored && member.firstCommitted !== null && before < member.firstCommitted
        if (before >= 0 && member.applied < before && !restored) {
          this.#report('read-point', `${member.id}'s barrier resolved at ${result.position} before it applied position ${before}, acknowledged before the call (applied up to ${member.applied})`)
        }
      },
      () => {
        member.pending.delete(pending)
      },
    )
    return barrier
  }

  #checkAcknowledged(member: Member, pending: Pending, result: Enqueued): void {
    this.#acknowledgedAt.add(result.position)
    if (result.position > this.#acknowledgedMax) this.#acknowledgedMax = result.position
    // Acknowledged means committed and applied here: a caller reads its own write from its member's state.
    if (member.applied < result.position) {
      this.#report('applied-first', `${member.id}'s enqueue acknowledged at ${result.position}, which it has applied only up to ${member.applied}`)
    }
    const record = this.#log.get(result.position)
    if (record === undefined) {
      this.#report('exactly-once', `${member.id}'s enqueue acknowledged at ${result.position}, which no member applied`)
    } else if (record.from !== member.id || (pending.text !== undefined && record.text !== pending.text)) {
      this.#report(
        'exactly-once',
        `${member.id}'s enqueue of ${clip(pending.text)} acknowledged at ${result.position}, which holds ${clip(record.text)} from ${record.from}`,
      )
    }
  }

  #observeLeader(): void {
    const leader = this.#latest?.majority[0] ?? null
    if (leader !== null && leader !== this.#leader) {
      if (this.#leader !== null) this.stats.leaderChanges++
      this.#leader = leader
      this.#trace(`${leader} leads government ${this.#latest?.number}`)
    }
  }

  /** The checks after every step. */
  async #check(): Promise<void> {
    if (this.#durable !== null) {
      // A step after it joined, a member's first snapshot is on its disk (written at once, in the same step).
      for (const member of this.#members.values()) if (member.running && member.joined) member.established = true
    }
    for (const member of this.#members.values()) {
      if (member.outOfBandFailedStep !== null && member.outOfBandFailedStep < this.#step && member.running) {
        const state = member.colleague.health().state
        if (state !== 'crashed') {
          this.#report('out-of-band-crash', `${member.id}'s out-of-band request failed at step ${member.outOfBandFailedStep} and it is ${state}`)
        }
        member.outOfBandFailedStep = null
      }
    }
    if (this.#abortedWaits.length > 0) this.#checkAbortedWaits()
    for (const member of this.#members.values()) {
      // Nothing applied yet: a restarted member's restored position is not known here (its first entry tells).
      if (!holdsSettledState(member) || member.applied < 0 || stateAt(member) === member.comparedAt) continue
      await this.#compareState(member)
    }
    if (this.#hidden && this.#step % DEFAULTS.hiddenStateEverySteps === 0) this.#compareHiddenState()
  }

  /** An aborted wait ends: by the end of the step after its signal aborted, it has settled. */
  #checkAbortedWaits(): void {
    this.#abortedWaits = this.#abortedWaits.filter(({ member, pending }) => {
      if (!member.pending.has(pending)) return false
      const step = pending.abortedUnapplied?.step ?? this.#step
      if (step >= this.#step) return true
      this.#report('abort', `${member.id}'s enqueue of ${clip(pending.text)} still waits at step ${this.#step}, though its signal aborted at step ${step}`)
      return false
    })
  }

  /** Joined members whose application state may be compared now (see `holdsSettledState`). */
  #comparable(): Member[] {
    return [...this.#members.values()].filter((member) => member.joined && holdsSettledState(member))
  }

  /**
   * After the run: a few quiet steps (no workload) until the comparable
   * members applied up to one position, then one last comparison of the
   * state their applications hide.
   */
  async #finalHiddenState(): Promise<void> {
    if (!this.#hidden) return
    const aligned = (): boolean => new Set(this.#comparable().map((member) => stateAt(member))).size <= 1
    for (let step = 0; step < DEFAULTS.alignSteps && !aligned() && !this.#stopped(); step++) await this.#runStep(false)
    if (!this.#stopped()) this.#compareHiddenState()
  }

  /**
   * What `member`'s application keeps where `snapshot()` does not show it,
   * scope by scope, read now; null (and no more reading this run) where the
   * inspector cannot be used.
   */
  #hiddenVariables(application: Application): Record<string, unknown>[] | null {
    const scopes = closureState(application.entry)
    const fields = privateFields(application)
    if (scopes === null || fields === null) {
      this.#hidden = false
      this.#trace('hidden state: the inspector cannot be used on this thread; not compared')
      return null
    }
    // Its own fields too: plain, they are compared at every step already, but a helper object there may keep private fields.
    return [...scopes, fields, dataFields(application)].map((scope) => (scope ?? {}) as Record<string, unknown>)
  }

  /**
   * Where a just-built application holds its own id (see `idMarks`): in its
   * fields, and (with the hidden state read) in what its `entry` closes over
   * and its private fields. Read before it applied anything, so that an id
   * it writes later as state (a lock's holder) is state.
   */
  #birthMarks(id: string, application: Application): ReadonlySet<string> {
    const marks = new Set<string>()
    try {
      idMarks((JSON.parse(stateText(application, null)) as { fields?: unknown }).fields, FIELDS_ROOT, id, marks)
    } catch {
      // Fields JSON cannot carry: compared as they are.
    }
    if (!this.#hidden) return marks
    const variables = this.#hiddenVariables(application)
    if (variables === null) return marks
    for (const [name, text] of hiddenReading(variables, NOTHING_SHARED, id, marks).texts) idMarks(parsedReading(text), name, id, marks)
    return marks
  }

  /**
   * `member`'s hidden state read on its own, with no other member's beside it
   * to tell shared objects by (`differingNames` tells them pair by pair).
   */
  #readAlone(member: Member): HiddenReading | null {
    const variables = this.#hiddenVariables(member.application)
    return variables === null ? null : hiddenReading(variables, NOTHING_SHARED, member.id, member.marks)
  }

  /**
   * The leader took a snapshot for its newcomers: what its application
   * holds at this moment, beside that snapshot, is what each newcomer's
   * must hold once `restore()` returns (see `#checkRestored`).
   */
  #noteSnapshot(member: Member, at: string, snapshot: unknown): void {
    if (!this.#hidden || this.#durable !== null || stateAt(member) !== at || !holdsSettledState(member)) return
    let key: string
    try {
      key = JSON.stringify(snapshot ?? null)
    } catch {
      return
    }
    const reading = this.#readAlone(member)
    if (reading === null) return
    this.#snapshotReadings.push({ key, member: member.id, position: member.applied, step: this.#step, ...reading })
    if (this.#snapshotReadings.length > DEFAULTS.snapshotReadingsMax) this.#snapshotReadings.shift()
  }

  /**
   * A newcomer's `restore()` returned: before it applies anything more, what
   * its application holds must be what the leader's held when it took the
   * snapshot. A field the snapshot leaves out shows here even when the next
   * entry overwrites it, which the comparisons at the same applied position
   * (made later, at the end of a step) would no longer see. Two moments are
   * compared, so a variable that every member shares (a counter around the
   * function that builds the applications, say) could have moved between
   * them: a variable that some other member holds with the newcomer's value
   * now, or an object it holds too, is not reported.
   */
  async #checkRestored(newcomer: Member, state: unknown): Promise<void> {
    if (!this.#hidden || this.#durable !== null || this.#snapshotReadings.length === 0) return
    let key: string
    try {
      key = JSON.stringify(state ?? null)
    } catch {
      return
    }
    const readings = this.#snapshotReadings.filter((reading) => reading.key === key && reading.member !== newcomer.id)
    if (readings.length === 0) return
    // The leader's reading followed its own snapshot() call: so does this one (a snapshot() may note something).
    try {
      const taken = newcomer.application.snapshot?.()
      if (isThenable<unknown>(taken)) await taken
    } catch {
      return
    }
    if (!newcomer.running || newcomer.applying > 0) return
    const mine = this.#readAlone(newcomer)
    if (mine === null) return
    let differing: { reading: SnapshotReading; names: string[] } | null = null
    for (const reading of readings) {
      const names = differingNames(reading, mine)
      if (names.length === 0) return
      differing = { reading, names }
    }
    if (differing === null) return
    // Shared, or moved since by every member alike: some other member holds the same now.
    let others = 0
    let names = differing.names
    for (const other of this.#comparable()) {
      if (other === newcomer) continue
      const theirs = this.#readAlone(other)
      if (theirs === null) return
      others++
      const apart = new Set(differingNames(theirs, mine))
      names = names.filter((name) => apart.has(name))
    }
    const name = names[0]
    if (others === 0 || name === undefined) return
    const { reading } = differing
    this.#report(
      'divergence',
      `${newcomer.id} restored the snapshot ${reading.member} took ${reading.position < 0 ? 'before it applied any value' : `after position ${reading.position}`} (step ${reading.step}); then ${name}, ` +
        `which ${newcomer.id}'s application keeps beside its snapshot (a variable entry() closes over, a private field, or a field, ` +
        `with the private fields of the objects in it), is ${clip(mine.texts.get(name) ?? 'absent')} on ${newcomer.id} and was ` +
        `${clip(reading.texts.get(name) ?? 'absent')} on ${reading.member} when it took the snapshot: does snapshot() leave it out?`,
    )
  }

  /**
   * Compares the state each comparable member's application hides from
   * `snapshot()` and its fields (the variables its `entry` closes over, its
   * private fields, and the private fields of class instances held in any of
   * those or in its fields) with that of the others at the same applied
   * position, at this moment. An object that more than one member holds (the variables
   * around the function that builds the applications, say) is shared, not
   * state of either: it is left out, and two members that each hold their own id in a variable agree there; a shared
   * variable that is not an object has one value at one moment anyway. A
   * `snapshot()` that forgets part of the state shows here once a member
   * restored from it.
   */
  #compareHiddenState(): void {
    const read: { member: Member; variables: Record<string, unknown>[] }[] = []
    for (const member of this.#comparable()) {
      const variables = this.#hiddenVariables(member.application)
      if (variables === null) return
      read.push({ member, variables })
    }
    const holders = new Map<object, Set<string>>()
    for (const { member, variables } of read) {
      for (const scope of variables) {
        for (const value of Object.values(scope)) {
          if (value === null || typeof value !== 'object') continue
          const ids = holders.get(value) ?? new Set<string>()
          ids.add(member.id)
          holders.set(value, ids)
        }
      }
    }
    const shared = new Set([...holders].filter(([, ids]) => ids.size > 1).map(([value]) => value))
    const seen = new Map<string, { member: string; reading: HiddenReading }>()
    for (const { member, variables } of read) {
      if (member.applied < 0) continue
      const reading = hiddenReading(variables, shared, member.id, member.marks)
      const known = seen.get(stateAt(member))
      if (known === undefined) {
        seen.set(stateAt(member), { member: member.id, reading })
        continue
      }
      const [differing] = differingNames(known.reading, reading)
      if (differing === undefined) continue
      const texts = reading.texts
      this.#report(
        'divergence',
        `after position ${member.applied}, ${differing}, which ${member.id}'s application keeps beside its snapshot and fields ` +
          `(a variable entry() closes over, a private field, or a field, with the private fields of the objects in it), is ${clip(texts.get(differing) ?? 'absent')} on ${member.id} ` +
          `and ${clip(known.reading.texts.get(differing) ?? 'absent')} on ${known.member}: ` +
          (this.#startedEmpty(member.id, known.member) ?? 'does snapshot() leave it out?'),
      )
      return
    }
  }

  /**
   * Compares a member's application state with the first state seen at the
   * same applied position. A member that applied more while its snapshot was
   * under way is compared at a later step instead.
   */
  async #compareState(member: Member): Promise<void> {
    const position = member.applied
    const at = stateAt(member)
    let fingerprint: string
    try {
      let snapshot: unknown = member.application.snapshot === undefined ? undefined : member.application.snapshot()
      if (isThenable<unknown>(snapshot)) {
        snapshot = await snapshot
        if (stateAt(member) !== at || member.applying > 0) return
      }
      fingerprint = stateText(member.application, snapshot)
    } catch (error) {
      member.comparedAt = at
      this.#report('exception', `${member.id}'s snapshot() failed: ${text(error)}`)
      return
    }
    member.comparedAt = at
    const known = this.#states.get(at)
    if (known === undefined) {
      this.#states.set(at, { member: member.id, text: fingerprint, marks: member.marks })
      if (this.#states.size > DEFAULTS.statesMax) this.#states.delete(this.#states.keys().next().value as string)
      return
    }
    if (known.text !== fingerprint && !sameUpToOwnIds(known.text, known.member, known.marks, fingerprint, member.id, member.marks)) {
      const why = this.#startedEmpty(member.id, known.member)
      this.#report(
        'divergence',
        `after position ${position}, ${member.id}'s application state ${around(fingerprint, known.text)} differs from ` +
          `${known.member}'s ${around(known.text, fingerprint)}${why === null ? '' : `: ${why}`}`,
      )
    }
  }

  /**
   * Why one of two diverging members could not hold the state, when that is
   * plain: it joined as a newcomer with an application that has neither
   * `restore()` nor `join()`, so it started from nothing at its arrival.
   */
  #startedEmpty(...ids: string[]): string | null {
    for (const id of ids) {
      const member = this.#members.get(id)
      if (member === undefined || !member.newcomer) continue
      const { restore, join } = member.application
      if (restore !== undefined || join !== undefined) continue
      return `${id} joined as a newcomer, and its application has no restore() (nor join()): it started from nothing at its arrival. An application that keeps state needs snapshot() and restore()`
    }
    return null
  }

  // ------------------------------------------------------------------ members

  /** A new member, or with `previous` (durable mode) its process started again on its directory. */
  #addMember(newcomer: boolean, previous?: Member): Member {
    const id = previous?.id ?? `m${this.#nextId++}`
    const location = `http://${id}.sim`
    const clock = new MemberClock(this.#scheduler)
    const incarnation = (previous?.incarnation ?? 0) + 1
    const label = incarnation === 1 ? id : `${id}#${incarnation}`
    const stream = this.#random.fork(`colleague:${label}`)
    let member: Member | null = null
    const application = checkedApplication(id, this.#application(id))
    for (const other of this.#members.values()) {
      if (other.application === application && other.id !== id && other.running) {
        throw new TypeError(
          `application(${JSON.stringify(id)}) returned the object application(${JSON.stringify(other.id)}) returned: each member needs an application of its own (its state is that member's)`,
        )
      }
    }
    const endpoint = {
      id,
      clock,
      alive: () => member?.running === true,
      receive: (route: PeerRoute, body: string) => this.#receive(colleague, route, body),
    }
    const options: ColleagueOptions & { [MUTANT_OPTION]?: ColleagueMutant } & WatchOption = {
      islandName: 'simulated',
      colleagueId: id,
      location,
      ...TIMING,
      parliamentSize: this.#options.parliamentSize ?? DEFAULTS.parliamentSize,
      random: () => stream.next(),
      randomId: () => `island-${this.#seed}`,
      clock,
      transport: this.#network.transport(endpoint),
      application: this.#observed(() => member as Member, application),
      ...this.#options.memberOptions?.(id, this.#random.fork(`member-options:${label}`)),
      ...(this.#durable !== null && { storage: this.#durable.storage(id) }),
      ...(this.#options.mutant !== undefined && { [MUTANT_OPTION]: this.#options.mutant }),
      [WATCH_OPTION]: { committed: (entries) => this.#onCommitted(member as Member, entries) },
    }
    const colleague = new Colleague(options)
    member = {
      id,
      location,
      clock,
      colleague,
      application,
      newcomer,
      founder: previous?.founder ?? this.#members.size === 0,
      incarnation,
      via: previous?.via ?? null,
      established: previous?.established ?? false,
      exiledWhileDown: false,
      running: true,
      joined: false,
      restores: application.join === undefined,
      restored: false,
      applied: -1,
      governed: 0,
      firstCommitted: null,
      applying: 0,
      comparedAt: '',
      outOfBandRequests: 0,
      outOfBandFailedStep: null,
      outOfBandFailed: false,
      pending: new Set(),
      ownApplied: new Set(),
      skewMs: this.#random.fork(`clock:${label}`).int(2 * CLOCK_SKEW_MS_MAX + 1) - CLOCK_SKEW_MS_MAX,
      marks: this.#birthMarks(id, application),
    }
    const added = member
    colleague.on('crash', (error) => {
      if (error.code === 'EXILED') {
        this.stats.exiles++
        if (!this.#chosenExiles.has(id)) this.#report('exile', `${id} stopped as exiled, yet no member committed a government that exiles it`)
      }
      this.#trace(`${id} crashed: ${error.code} ${error.message}`)
      // An application callback threw or rejected while the colleague applied the log: in an island, every member
      // applying that entry would crash alike. (A failed out-of-band request crashes a newcomer by design.)
      if (error.code === 'APPLICATION_FAILED' && added.running && !added.outOfBandFailed) {
        this.#report('exception', `${id} crashed: its application failed (${error.message}): ${text(error.cause)}`)
      }
      const running = added.running
      this.#stop(added)
      if (running) this.#processEnded(added, false, error.code)
    })
    colleague.on('naturalized', () => {
      added.joined = true
      this.stats.naturalized++
      this.#trace(`${id} naturalized`)
    })
    this.#members.set(id, member)
    this.#byLocation.set(location, member)
    this.#network.attach(location, endpoint)
    return member
  }

  /** The user's application as the colleague sees it, watched by the simulator on the way through. */
  #observed(member: () => Member, application: Application): Application {
    const observed: Application = {
      entry: (entry) => this.#onEntry(member(), application, entry),
      government: (government) => {
        this.#onGovernment(government)
        member().governed = government.number
        application.government?.(government)
      },
    }
    const { snapshot, restore, join, outOfBand } = application
    if (snapshot !== undefined) {
      observed.snapshot = () => {
        const self = member()
        const at = stateAt(self)
        const taken = snapshot.call(application)
        const note = this.#hidden && this.#durable === null
        if (!isThenable<unknown>(taken)) {
          if (note) this.#noteSnapshot(self, at, taken)
          return taken
        }
        // Under way, as an entry is: a step waits for it (see `#awaitApplying`).
        self.applying++
        return taken.then(
          (value) => {
            self.applying--
            if (note) this.#noteSnapshot(self, at, value)
            return value
          },
          (error: unknown) => {
            self.applying--
            throw error
          },
        )
      }
    }
    if (restore !== undefined) {
      observed.restore = async (state) => {
        const self = member()
        self.applying++
        try {
          await restore.call(application, state)
        } finally {
          self.applying--
        }
        self.restored = true
        // The check calls snapshot(), which may wait on real I/O too: a step waits for it.
        this.#checking++
        try {
          await this.#checkRestored(self, state)
        } finally {
          this.#checking--
        }
      }
    } else {
      // Without restore there is nothing to wait for: the state is whatever the application starts with.
      observed.restore = () => {
        member().restored = true
      }
    }
    if (join !== undefined) {
      observed.join = async (context: JoinContext) => {
        await join.call(application, context)
        member().restored = true
      }
    }
    if (outOfBand !== undefined) {
      // Under way, as an entry is: a step waits for an answer that waits on real I/O.
      observed.outOfBand = async (name, post, context) => {
        const self = member()
        self.applying++
        try {
          return await outOfBand.call(application, name, post, context)
        } finally {
          self.applying--
        }
      }
    }
    return observed
  }

  #onEntry(member: Member, application: Application, entry: AppliedEntry): void | Promise<void> {
    if (member.newcomer && !member.restored) {
      this.#report('restore-first', `${member.id} applied position ${entry.position} before its state was restored`)
    }
    if (entry.position <= member.applied) {
      this.#report('prefix', `${member.id} applied position ${entry.position} after ${member.applied}`)
    }
    let valueText: string
    try {
      valueText = JSON.stringify(entry.value) ?? 'undefined'
    } catch (error) {
      valueText = `unserialisable: ${text(error)}`
    }
    if (entry.from === member.id) member.ownApplied.add(valueText)
    const known = this.#log.get(entry.position)
    if (known === undefined) {
      this.#log.set(entry.position, { from: entry.from, text: valueText })
      this.stats.applied++
      const count = this.#count(entry.from, valueText)
      count[1]++
      if (count[1] > count[0]) {
        this.#report('exactly-once', `${clip(valueText)} from ${entry.from} applied ${count[1]} times, enqueued ${count[0]}`)
      }
    } else if ((known.from !== entry.from || known.text !== valueText) && this.#acknowledgedAt.has(entry.position)) {
      this.#report(
        'exactly-once',
        `acknowledged enqueue of ${clip(known.text)} from ${known.from} at position ${entry.position} lost: ${member.id} applied ${clip(valueText)} from ${entry.from} there`,
      )
    } else if (known.from !== entry.from || known.text !== valueText) {
      this.#report(
        'agreement',
        `position ${entry.position}: ${member.id} applied ${clip(valueText)} from ${entry.from}, others ${clip(known.text)} from ${known.from}`,
      )
    }
    member.applying++
    const done = (): void => {
      member.applying--
      member.applied = Math.max(member.applied, entry.position)
    }
    let result: void | Promise<void>
    // Its own clock, while entry() runs (what it reads after an await is the island's).
    this.globals.skewMs = member.skewMs
    try {
      result = application.entry(entry)
    } catch (error) {
      member.applying--
      throw error
    } finally {
      this.globals.skewMs = 0
    }
    if (isThenable(result)) {
      return result.then(done, (error: unknown) => {
        member.applying--
        throw error
      })
    }
    done()
  }

  /** What a member's legislator committed, before its application applies it: the exiles of each government. */
  #onCommitted(member: Member, entries: readonly Committed[]): void {
    if (member.firstCommitted === null && entries.length > 0) member.firstCommitted = (entries[0] as Committed).position
    for (const item of entries) if (item.entry.type === 'government') for (const id of item.entry.government.exiled) this.#chosenExiles.add(id)
  }

  #onGovernment(government: Government): void {
    this.#governments.set(government.promise, government)
    if (this.#governments.size > 512) this.#governments.delete(this.#governments.keys().next().value as string)
    if (this.#latest === null || government.number > this.#latest.number) {
      this.#latest = government
      for (const number of this.#proposed.keys()) if (number <= government.number) this.#proposed.delete(number)
      this.#trace(
        `government ${government.number}: majority ${government.majority.join(',')} minority ${government.minority.join(',')} constituents ${government.constituents.join(',')}`,
      )
    }
  }

  /** The wire tap: out-of-band requests go once, to the arrival government's leader. */
  #onPosted(from: string, to: string | null, route: PeerRoute, body: string): ((ok: boolean) => void) | undefined {
    if (route !== '/oob') return undefined
    const member = this.#members.get(from)
    if (member === undefined) return undefined
    this.stats.outOfBand++
    member.outOfBandRequests++
    const { arrival } = JSON.parse(body) as { arrival: string | null }
    if (member.restores && member.outOfBandRequests > 1) {
      this.#report('out-of-band', `${from} made out-of-band request number ${member.outOfBandRequests}`)
    }
    const government = arrival === null ? undefined : this.#governments.get(arrival)
    const leader = government?.majority[0]
    if (leader !== undefined && to !== leader) {
      this.#report('out-of-band', `${from} asked ${to ?? 'nobody'} out of band, not ${leader}, the leader of its arrival ${arrival}`)
    }
    return (ok) => {
      if (ok) return
      this.stats.outOfBandFailures++
      member.outOfBandFailed = true
      if (member.restores) member.outOfBandFailedStep = this.#step
    }
  }

  /** The receiving side of the simulated wire: what the HTTP handler does, without HTTP. */
  async #receive(colleague: Colleague, route: PeerRoute, body: string): Promise<PostAnswer> {
    try {
      const parsed = JSON.parse(body) as unknown
      // A government can be chosen only once members received it: watch for them here.
      if (route === '/kibitz' && body.includes('"government":{')) this.#noteProposals(parsed)
      const result = await colleague.request(REQUEST_TYPE[route], parsed)
      return result === undefined ? { status: 204, text: '' } : { status: 200, text: JSON.stringify(result) }
    } catch (error) {
      if (isColleagueError(error)) return { status: error.status, text: JSON.stringify(error.toBody()) }
      return { status: 500, text: JSON.stringify({ error: { code: 'INTERNAL', message: text(error) } }) }
    }
  }

  #noteProposals(body: unknown): void {
    const latest = this.#latest?.number ?? 0
    const messages = (body as { messages?: Array<{ entries?: unknown[]; accepted?: unknown[] }> }).messages ?? []
    for (const message of messages) {
      for (const accepted of [...(message.entries ?? []), ...(message.accepted ?? [])]) {
        const entry = (accepted as { entry?: { type?: string; government?: Government } }).entry
        if (entry?.type !== 'government' || entry.government === undefined || entry.government.number <= latest) continue
        const government = entry.government
        const known = this.#proposed.get(government.number) ?? []
        const parliament = parliamentOf(government).join(',')
        if (known.some((other) => parliamentOf(other).join(',') === parliament) || known.length >= PROPOSALS_PER_NUMBER_MAX) continue
        known.push(government)
        this.#proposed.set(government.number, known)
      }
    }
  }

  #join(newcomer: Member): void {
    const others = this.#joined().filter((member) => member !== newcomer)
    const via = this.#actions.pick(others)
    // Half the newcomers are given the other members too, after the one picked (a supervisor's list of them):
    // one that cannot be reached, or does not answer, is then not the end of the join.
    const asked = this.#actions.chance(0.5) ? [via, ...others.filter((member) => member !== via)] : [via]
    newcomer.via = asked.length === 1 ? via.location : asked.map((member) => member.location)
    this.#trace(`${newcomer.id} joins through ${asked.map((member) => member.id).join(', ')}`)
    newcomer.colleague.join(newcomer.via).catch((error: unknown) => {
      this.#trace(`${newcomer.id} join failed: ${isColleagueError(error) ? error.code : text(error)}`)
      // A supervisor would start a new process: this one is gone.
      if (newcomer.running) this.#kill(newcomer)
    })
  }

  #admitNewcomer(): boolean {
    const steps = this.#options.steps ?? DEFAULTS.steps
    if (this.stats.newcomers >= Math.ceil(steps / DEFAULTS.newcomersPerSteps)) return false
    if (this.#living().length >= this.stats.members + 2 || this.#joined().length === 0) return false
    this.stats.newcomers++
    this.#join(this.#addMember(true))
    return true
  }

  /** The simulator kills the process: nothing of it runs again. */
  #kill(member: Member): void {
    this.#trace(`kill ${member.id}`)
    const running = member.running
    this.#stop(member)
    if (running) this.#processEnded(member, true, null)
    this.#options.onCrash?.(member.id)
  }

  /**
   * Durable mode: the process is gone (killed: a power cut of its disk; or
   * crashed by itself). Unless it was exiled, a supervisor starts it again on
   * its directory after a while.
   */
  #processEnded(member: Member, powerCut: boolean, code: string | null): void {
    const durable = this.#durable
    if (durable === null) return
    durable.ended(member.id, powerCut)
    if (code === 'EXILED') {
      if (member.exiledWhileDown) {
        durable.noteExiledWhileDown()
        this.stats.faults['exiled-while-down']++
      }
      return
    }
    durable.scheduleRestart(member.id, this.#step, Math.ceil(durable.exileMs / STEP_MS))
  }

  /** Durable mode: starts again the processes due (all of them, with `all`). */
  #restartDue(all: boolean): void {
    if (this.#durable === null) return
    for (const id of this.#durable.takeDue(all ? null : this.#step)) this.#restartFromDisk(this.#members.get(id) as Member)
  }

  /**
   * What a supervisor does: a new process on the same directory, with the
   * same bootstrap or join call. The library resumes the member from its
   * directory, or finds none there (it never held the state): then that
   * process is gone too, and newcomers replace it as in memory mode.
   */
  #restartFromDisk(previous: Member): void {
    const durable = this.#durable as DurableMembers
    let member: Member
    try {
      member = this.#addMember(true, previous)
    } catch (error) {
      durable.ended(previous.id, false)
      this.#report('resume', `${previous.id} could not start again on its directory: ${text(error)}`)
      return
    }
    const resumed = member.colleague.recovered
    durable.noteRestart(resumed)
    if (!resumed) {
      this.#trace(`${member.id} starts again and its directory holds no member`)
      member.running = false
      member.clock.dead = true
      durable.ended(member.id, false)
      // An exile's directory is retired: that one may well be empty.
      if (previous.established && !this.#chosenExiles.has(member.id)) {
        this.#report('resume', `${member.id} held the state, yet its directory holds no member after a restart`)
      }
      return
    }
    this.stats.faults['restart-from-disk']++
    member.exiledWhileDown = this.#latest?.exiled.includes(member.id) === true
    this.#trace(`${member.id} starts again on its directory${member.exiledWhileDown ? ' (exiled while down)' : ''}`)
    const started = member.founder || member.via === null ? member.colleague.bootstrap() : member.colleague.join(member.via)
    started.catch((error: unknown) => {
      this.#trace(`${member.id} did not resume: ${isColleagueError(error) ? error.code : text(error)}`)
      if (member.running) this.#kill(member)
    })
  }

  /** Durable mode: the power goes at `id` in the middle of a sync of its disk; the sync never happens. */
  #cutPowerDuringSync(id: string): boolean {
    const member = this.#members.get(id)
    if (!this.#faulting || member === undefined || !member.running || this.#spare.has(id)) return false
    this.stats.faults['power-cut-in-sync']++
    this.#trace(`power cut at ${id} while it syncs`)
    this.#kill(member)
    return true
  }

  /** Durable mode: a power cut of the whole island; every process starts again after its own delay. */
  #crashIsland(): boolean {
    if (this.#durable === null || !this.#durable.islandCrashes || this.#spare.size > 0) return false
    const living = this.#living()
    if (living.length === 0) return false
    this.#trace(`island crash: ${living.map((member) => member.id).join(',')}`)
    for (const member of living) this.#kill(member)
    return true
  }

  #stop(member: Member): void {
    if (!member.running) return
    member.running = false
    member.clock.dead = true
    member.pending.clear()
    this.stats.crashes++
  }

  #living(): Member[] {
    const living: Member[] = []
    for (const member of this.#members.values()) if (member.running) living.push(member)
    return living
  }

  /** Living members that are in the island (not still joining). */
  #joined(): Member[] {
    return this.#living().filter((member) => member.joined)
  }

  #understaffed(): boolean {
    return this.#living().length + (this.#durable?.waiting ?? 0) < this.stats.members
  }

  /**
   * Whether every government a living member works under, and the latest,
   * keeps a living majority of its parliament without `excluded`.
   */
  #quorumAlive(excluded: string | null): boolean {
    const governments = new Map<number, Government>()
    if (this.#latest !== null) governments.set(this.#latest.number, this.#latest)
    for (const member of this.#living()) {
      const own = member.colleague.health().government
      if (own !== null) governments.set(own.number, own)
    }
    const proposed = [...this.#proposed.values()].flat()
    for (const government of [...governments.values(), ...proposed]) {
      const parliament = parliamentOf(government)
      const living = parliament.filter((id) => id !== excluded && this.#members.get(id)?.running === true).length
      if (living < quorumSize(parliament.length)) return false
    }
    return true
  }

  /**
   * Whether every government from the newest one a living member applied to
   * the latest keeps a living majority of its parliament. No living member
   * knows the positions after its own government chosen: only a quorum of
   * the parliament that decided each of them can tell a new leader what was
   * chosen there, whatever later government is alive.
   */
  #chainAlive(): boolean {
    let newest = 0
    for (const member of this.#living()) newest = Math.max(newest, member.colleague.health().government?.number ?? 0)
    for (const government of this.#governments.values()) {
      if (government.number < newest) continue
      const parliament = parliamentOf(government)
      const living = parliament.filter((id) => this.#members.get(id)?.running === true).length
      if (living < quorumSize(parliament.length)) return false
    }
    return true
  }

  /** Each living member's view, for a liveness report. */
  #describeLiving(): string {
    return this.#living()
      .map((member) => {
        const health = member.colleague.health()
        const government = health.government
        const stalled = health.applying === null ? '' : ` (its application's entry() for position ${health.applying.position} has not settled in ${health.applying.forMs} ms)`
        return `${member.id} ${health.state} government ${government?.number ?? '-'} leader ${health.leader ?? '-'}${health.isLeader ? ' (leading)' : ''} commit ${health.positions.commit} applied ${health.positions.applied}${stalled}`
      })
      .join(', ')
  }

  // ------------------------------------------------------------------ faults

  #injectFault(): void {
    const weights = this.#durable === null ? FAULT_WEIGHTS : DURABLE_FAULT_WEIGHTS
    const total = weights.reduce((sum, [, weight]) => sum + weight, 0)
    let roll = this.#actions.next() * total
    let type: DrawnFault = 'heal'
    for (const [candidate, weight] of weights) {
      roll -= weight
      if (roll < 0) {
        type = candidate
        break
      }
    }
    if (this.#applyFault(type)) this.stats.faults[type]++
  }

  #applyFault(type: DrawnFault): boolean {
    const actions = this.#actions
    const alive = this.#living().map((member) => member.id)
    switch (type) {
      case 'loss':
        this.#network.setFaults({ lossRate: actions.pick([0, 0.02, 0.1, 0.3]) })
        break
      case 'duplicate':
        this.#network.setFaults({ duplicateRate: actions.pick([0, 0.05, 0.2]) })
        break
      case 'delay':
        this.#network.setFaults({ delayMsMax: actions.pick([0, 2, 8, 30]) })
        break
      case 'reorder':
        this.#network.setFaults({ reorderRate: actions.pick([0, 0.3, 1]) })
        break
      case 'partition': {
        const left = alive.filter(() => actions.chance(0.5))
        const right = alive.filter((id) => !left.includes(id))
        if (left.length === 0 || right.length === 0) return false
        this.#network.partition(left, right)
        this.#partitionFor()
        this.#trace(`partition ${left.join(',')} | ${right.join(',')}`)
        break
      }
      case 'one-way': {
        const from = alive.filter(() => actions.chance(0.4))
        const to = alive.filter((id) => !from.includes(id) && actions.chance(0.6))
        if (from.length === 0 || to.length === 0) return false
        this.#network.partitionOneWay(from, to)
        this.#partitionFor()
        this.#trace(`one-way ${from.join(',')} -> ${to.join(',')}`)
        break
      }
      case 'isolate-leader': {
        const leader = this.#latest?.majority[0]
        if (leader === undefined || !alive.includes(leader)) return false
        this.#network.partition([leader], alive)
        this.#partitionFor()
        this.#trace(`isolate leader ${leader}`)
        break
      }
      case 'heal':
        this.#heal()
        if (actions.chance(0.5)) this.#network.setFaults(CALM)
        this.#trace('heal')
        break
      case 'pause':
      case 'long-pause': {
        const leader = this.#members.get(this.#latest?.majority[0] ?? '')
        const candidates = this.#living().filter((member) => !this.#spare.has(member.id))
        if (candidates.length === 0) return false
        const target = (actions.chance(0.5) && leader !== undefined && candidates.includes(leader) ? leader : undefined) ?? actions.pick(candidates)
        if (this.#scheduler.now < target.clock.pausedUntil) return false
        const [low, high] = DEFAULTS.longPauseSteps
        const steps = type === 'pause' ? 1 + actions.int(DEFAULTS.pauseStepsMax) : low + actions.int(high - low)
        target.clock.pausedUntil = this.#scheduler.now + steps * STEP_MS
        this.#trace(`pause ${target.id} for ${steps} steps`)
        break
      }
      case 'crash':
        return this.#crashSomeone()
      case 'island-crash':
        return this.#crashIsland()
      case 'newcomer':
        return this.#admitNewcomer()
      case 'newcomer-then-leader-fault': {
        if (!this.#admitNewcomer()) return false
        // The arrival government's leader fails while the newcomer is on its way.
        this.#pendingLeaderFault = this.#step + 1 + actions.int(8)
        break
      }
    }
    return true
  }

  #heal(): void {
    this.#network.heal()
    this.#partitionedSince = -1
  }

  #partitionFor(): void {
    if (this.#partitionedSince < 0) this.#partitionedSince = this.#step
    const until = this.#step + 3 + this.#actions.int(DEFAULTS.partitionStepsMax - 2)
    this.#healStep = Math.max(this.#healStep, until)
    // Partitions may pile up; with spare members they never last long enough to exile one.
    if (this.#spare.size > 0) this.#healStep = Math.min(this.#healStep, this.#partitionedSince + DEFAULTS.sparePartitionStepsMax)
  }

  #crashSomeone(): boolean {
    const candidates = this.#living().filter((member) => !this.#spare.has(member.id))
    if (candidates.length <= 1) return false
    const leaderId = this.#latest?.majority[0]
    const target =
      (this.#actions.chance(0.5) ? candidates.find((member) => member.id === leaderId) : undefined) ?? this.#actions.pick(candidates)
    if (!this.#quorumAlive(target.id)) {
      if (!this.#actions.chance(this.#durable === null ? DEFAULTS.beyondQuorumRate : DURABLE_BEYOND_QUORUM_RATE)) return false
      this.stats.faults['crash-beyond-quorum']++
      this.#trace(`crash ${target.id} beyond quorum`)
      this.#kill(target)
      return false
    }
    this.#trace(`crash ${target.id}`)
    this.#kill(target)
    return true
  }

  // ------------------------------------------------------------------ reporting

  #stopped(): boolean {
    return (this.#options.stopAtFirstViolation ?? true) && this.violations.length > 0
  }

  /** A promise rejected during the run and nobody handled it. */
  unhandled(reason: unknown): void {
    this.#report('exception', `a promise rejected and nothing handled it: ${text(reason)}`)
  }

  #report(invariant: ColleagueInvariant, detail: string): void {
    if (this.#stopped()) return
    this.violations.push({ seed: this.#seed, step: this.#step, invariant, detail })
    this.#trace(`VIOLATION ${invariant}: ${detail}`)
  }

  #trace(line: string): void {
    this.#options.trace?.(`[${this.#step} ${this.#scheduler.now}ms] ${line}`)
  }
}

/**
 * The application's state as the simulator compares it: its snapshot, and
 * its own enumerable data properties (so a field the snapshot forgets still
 * shows). Where two differ only in fields that hold each member's own id,
 * they agree (`sameUpToOwnIds`).
 */
function stateText(application: Application, snapshot: unknown): string {
  const fields = dataFields(application)
  // The replacer changes only Maps, Sets and bigints: without any, the text is the same without it.
  const needs = needsReplacer(snapshot) || Object.values(fields).some(needsReplacer)
  try {
    return JSON.stringify({ snapshot: snapshot ?? null, fields }, needs ? replacer : undefined)
  } catch {
    return JSON.stringify({ snapshot: snapshot ?? null }, replacer)
  }
}

/**
 * The application object's own fields that are data (functions and accessors
 * left out), enumerable or not, under a string key or a symbol (as `[desc]`).
 */
function dataFields(application: Application): Record<string, unknown> {
  const fields: Record<string, unknown> = {}
  for (const key of Reflect.ownKeys(application)) {
    const descriptor = Object.getOwnPropertyDescriptor(application, key)
    if (descriptor === undefined || !('value' in descriptor) || typeof descriptor.value === 'function') continue
    fields[typeof key === 'symbol' ? `[${key.description ?? ''}]` : key] = descriptor.value
  }
  return fields
}

/**
 * Whether two states (texts of `stateText`) of members \`a\` and \`b\` are
 * the same state told two ways: the snapshots are the same text, and the
 * fields hold the same state by `sameState`, each member's own id where its
 * application held it when built (`marks`) being the same.
 */
function sameUpToOwnIds(aText: string, a: string, aMarks: ReadonlySet<string>, bText: string, b: string, bMarks: ReadonlySet<string>): boolean {
  type State = { snapshot?: unknown; fields?: unknown }
  const first = JSON.parse(aText) as State
  const second = JSON.parse(bText) as State
  if (JSON.stringify(first.snapshot) !== JSON.stringify(second.snapshot)) return false
  return sameState(canonical(first.fields ?? {}, FIELDS_ROOT, a, aMarks), canonical(second.fields ?? {}, FIELDS_ROOT, b, bMarks))
}

/** The path under which `idMarks` notes the application object's own fields (no variable's name starts with a space). */
const FIELDS_ROOT = ' fields'
/** What a member's own id becomes where it is its identity, not state: the same for every member. */
const OWN_ID = '\u0000own id'
/** Items one walk of `idMarks` or `canonical` visits at most; past it, the rest is taken as it is. */
const WALK_ITEMS_MAX = 100_000

/**
 * Notes in `marks` where `value` (a reading's value as JSON, Maps and Sets as
 * `replacer` writes them) holds the id `id`: a string holding it (`v path`),
 * an object or Map with it as a key (`k path`). Paths name object keys and
 * Map keys (the id itself as OWN_ID), and not array or Set positions. Read
 * from an application just built, these are where it keeps its identity (its
 * id, a `{ id, role }`, a logger's `[m1]` prefix, a Map keyed by itself):
 * there each member's own id is the same state.
 */
function idMarks(value: unknown, path: string, id: string, marks: Set<string>, budget = { left: WALK_ITEMS_MAX }): void {
  if (budget.left-- <= 0) return
  if (typeof value === 'string') {
    if (idIn(id).test(value)) marks.add(`v ${path}`)
    return
  }
  if (value === null || typeof value !== 'object') return
  if (Array.isArray(value)) {
    for (const item of value) idMarks(item, `${path}[]`, id, marks, budget)
    return
  }
  const entries = collection(value, 'Map')
  if (entries !== null) {
    for (const entry of entries) {
      const [key, item] = entry as [unknown, unknown]
      if (key === id) marks.add(`k ${path}`)
      idMarks(item, `${path}.get(${key === id ? OWN_ID : JSON.stringify(key)})`, id, marks, budget)
    }
    return
  }
  const values = collection(value, 'Set')
  if (values !== null) {
    for (const item of values) idMarks(item, `${path}{}`, id, marks, budget)
    return
  }
  for (const [key, item] of Object.entries(value)) {
    if (key === id) marks.add(`k ${path}`)
    idMarks(item, `${path}.${key === id ? OWN_ID : key}`, id, marks, budget)
  }
}

/** The id as a word of a text (`m1` in `[m1]` or `node-m1`, not in `m10`), each time it is there. */
function idIn(id: string): RegExp {
  let pattern = idPatterns.get(id)
  if (pattern === undefined) {
    pattern = new RegExp(`(?<![A-Za-z0-9])${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9])`, 'g')
    if (idPatterns.size >= ID_PATTERNS_MAX) idPatterns.clear()
    idPatterns.set(id, pattern)
  }
  pattern.lastIndex = 0
  return pattern
}

const idPatterns = new Map<string, RegExp>()
const ID_PATTERNS_MAX = 256

/** `value` with member `id`'s own id made OWN_ID where `marks` (its `idMarks`) say it is its identity; the rest as it is. */
function canonical(value: unknown, path: string, id: string, marks: ReadonlySet<string>, budget = { left: WALK_ITEMS_MAX }): unknown {
  if (marks.size === 0 || budget.left-- <= 0) return value
  if (typeof value === 'string') return marks.has(`v ${path}`) ? value.replace(idIn(id), OWN_ID) : value
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map((item) => canonical(item, `${path}[]`, id, marks, budget))
  const ownKey = marks.has(`k ${path}`)
  const entries = collection(value, 'Map')
  if (entries !== null) {
    return {
      Map: entries.map((entry) => {
        const [key, item] = entry as [unknown, unknown]
        return [ownKey && key === id ? OWN_ID : key, canonical(item, `${path}.get(${key === id ? OWN_ID : JSON.stringify(key)})`, id, marks, budget)]
      }),
    }
  }
  const values = collection(value, 'Set')
  if (values !== null) return { Set: values.map((item) => canonical(item, `${path}{}`, id, marks, budget)) }
  // No prototype: a `__proto__` key a reading holds stays a key.
  const copy = Object.create(null) as Record<string, unknown>
  for (const [key, item] of Object.entries(value)) {
    copy[ownKey && key === id ? OWN_ID : key] = canonical(item, `${path}.${key === id ? OWN_ID : key}`, id, marks, budget)
  }
  return copy
}

/**
 * Whether two members' readings of one variable or field (JSON values, with
 * Maps and Sets as `replacer` writes them, each member's identity made one by
 * `canonical`) hold the same state, though they differ as text. "Nothing
 * yet" has one meaning in all its forms, at any depth (undefined or absent,
 * null, an empty array, object, Map or Set: state created on first use on
 * one member and restored empty on the other, a helper's field included); an
 * object's keys, a Map's entries and a Set's values may come in any order (a
 * state rebuilt sorted). Anything else must be the same. Past WALK_ITEMS_MAX
 * items compared, the rest is compared as text.
 */
function sameState(a: unknown, b: unknown, budget = { left: WALK_ITEMS_MAX }): boolean {
  if (a === b) return true
  if (budget.left-- <= 0) return JSON.stringify(a) === JSON.stringify(b)
  if (isNothing(a) && isNothing(b)) return true
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    return a.every((item, index) => sameState(item, b[index], budget))
  }
  const aEntries = collection(a, 'Map')
  const bEntries = collection(b, 'Map')
  if (aEntries !== null && bEntries !== null) return sameEntries(aEntries, bEntries, budget)
  const aValues = collection(a, 'Set')
  const bValues = collection(b, 'Set')
  if (aValues !== null && bValues !== null) {
    const sorted = (values: unknown[]): unknown[] =>
      values
        .map((value) => [JSON.stringify(value), value] as const)
        .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
        .map(([, value]) => value)
    return sameState(sorted(aValues), sorted(bValues), budget)
  }
  const aRecord = a as Record<string, unknown>
  const bRecord = b as Record<string, unknown>
  // A key one of them lacks reads as undefined: "nothing yet", as null or an empty value is.
  for (const key of new Set([...Object.keys(aRecord), ...Object.keys(bRecord)])) {
    if (!sameState(Object.hasOwn(aRecord, key) ? aRecord[key] : undefined, Object.hasOwn(bRecord, key) ? bRecord[key] : undefined, budget)) return false
  }
  return true
}

/** Undefined, null, or an empty array, object, Map or Set (as `replacer` writes them). */
function isNothing(value: unknown): boolean {
  if (value === undefined || value === null) return true
  if (typeof value !== 'object') return false
  if (Array.isArray(value)) return value.length === 0
  const items = collection(value, 'Map') ?? collection(value, 'Set')
  if (items !== null) return items.length === 0
  for (const _ in value) return false
  return true
}

/** The items of a Map or Set as `replacer` writes it (`{ Map: [[key, value], ...] }`, `{ Set: [...] }`), else null. */
function collection(value: object, kind: 'Map' | 'Set'): unknown[] | null {
  const items = (value as Record<string, unknown>)[kind]
  if (!Array.isArray(items)) return null
  for (const key in value) if (key !== kind) return null
  if (kind === 'Map' && !items.every((entry) => Array.isArray(entry) && entry.length === 2)) return null
  return items
}

/** Map entries, in any order: each key the same text on both, with the same state. */
function sameEntries(aEntries: unknown[], bEntries: unknown[], budget: { left: number }): boolean {
  if (aEntries.length !== bEntries.length) return false
  const byKey = new Map<string, unknown>()
  for (const entry of bEntries) {
    const [key, value] = entry as [unknown, unknown]
    byKey.set(JSON.stringify(key), value)
  }
  for (const entry of aEntries) {
    const [key, value] = entry as [unknown, unknown]
    const text = JSON.stringify(key)
    if (!byKey.has(text) || !sameState(value, byKey.get(text), budget)) return false
  }
  return true
}

/**
 * What `member` applied of the log, as a key: its highest value position and
 * its latest government. Members with the same key applied the same entries.
 */
function stateAt(member: Member): string {
  return `${member.applied}/${member.governed}`
}

/** Running, not in the middle of an entry, and (a newcomer) restored: its application state is one to compare. */
function holdsSettledState(member: Member): boolean {
  return member.running && member.applying === 0 && !(member.newcomer && member.restores && !member.restored)
}

/**
 * The variables of the closure scopes `closureState` read and the private
 * fields, each as text by its name (a name that an inner scope already
 * used gets its scope's number): functions and `shared` objects left
 * out, each value that cannot be made text marked as such, and the names
 * where the member holds its own id noted.
 */
function hiddenReading(scopes: readonly Record<string, unknown>[], shared: ReadonlySet<object>, id: string, marks: ReadonlySet<string>): HiddenReading {
  const texts = new Map<string, string>()
  const objects = new Map<string, object>()
  const withPrivate = privateReplacer()
  for (const [index, scope] of scopes.entries()) {
    for (const [name, value] of Object.entries(scope)) {
      if (typeof value === 'function' || shared.has(value as object)) continue
      let text: string | undefined
      try {
        text = JSON.stringify(value, withPrivate)
      } catch {
        text = '(not serialisable)'
      }
      const key = texts.has(name) ? `${name} (scope ${index})` : name
      texts.set(key, text ?? 'undefined')
      if (value !== null && typeof value === 'object') objects.set(key, value)
    }
  }
  return { id, marks, texts, objects }
}

/** One member's reading of the state its application hides, by name. */
interface HiddenReading {
  /** The member read. */
  readonly id: string
  /** Where its application held its own id when built (`idMarks`): its identity there, not state. */
  readonly marks: ReadonlySet<string>
  readonly texts: ReadonlyMap<string, string>
  /** The objects among the values, by name: one that two members hold is shared, not state of either. */
  readonly objects: ReadonlyMap<string, object>
}

/** The names where two readings disagree: neither the same state (`sameState`, each one's identity made one), nor one object they both hold. */
function differingNames(a: HiddenReading, b: HiddenReading): string[] {
  const aHeld = new Set(a.objects.values())
  const bHeld = new Set(b.objects.values())
  return [...new Set([...a.texts.keys(), ...b.texts.keys()])].filter((name) => {
    const aText = a.texts.get(name)
    const bText = b.texts.get(name)
    if (aText === bText) return false
    if (sameState(canonical(parsedReading(aText), name, a.id, a.marks), canonical(parsedReading(bText), name, b.id, b.marks))) return false
    const mine = b.objects.get(name)
    const theirs = a.objects.get(name)
    return !((mine !== undefined && aHeld.has(mine)) || (theirs !== undefined && bHeld.has(theirs)))
  })
}

const NOTHING_SHARED: ReadonlySet<object> = new Set()

/** A reading's text as a value: absent and undefined as undefined; one that is not JSON as its text, compared as such. */
function parsedReading(text: string | undefined): unknown {
  if (text === undefined || text === 'undefined') return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    return { unreadable: text }
  }
}

/** What a leader's application held, beside the snapshot it took for its newcomers, when it took it. */
interface SnapshotReading extends HiddenReading {
  /** The snapshot as JSON text: what a newcomer's `restore()` gets, parsed. */
  readonly key: string
  readonly member: string
  readonly position: number
  readonly step: number
}

/** Class instances whose private fields one reading of the hidden state expands, at most: each costs a few inspector calls. */
const PRIVATE_EXPANSIONS_MAX = 256

/**
 * `replacer`, and a class instance nested anywhere in the value shows its
 * private fields too (as `#name` beside its own fields), so that a
 * `snapshot()` that forgets a helper object's private state is seen. A
 * class found without private fields is not asked about again; past
 * `PRIVATE_EXPANSIONS_MAX` instances the rest show only their own fields.
 */
function privateReplacer(): (key: string, value: unknown) => unknown {
  const withoutPrivate = new Set<object>()
  let left = PRIVATE_EXPANSIONS_MAX
  return (key, value) => {
    const plain = replacer(key, value)
    if (plain !== value || value === null || typeof value !== 'object' || Array.isArray(value)) return plain
    const prototype = Object.getPrototypeOf(value) as object | null
    if (prototype === null || prototype === Object.prototype || withoutPrivate.has(prototype) || left <= 0) return value
    left--
    const fields = privateFields(value)
    if (fields === null || Object.keys(fields).length === 0) {
      withoutPrivate.add(prototype)
      return value
    }
    return { ...(value as Record<string, unknown>), ...fields }
  }
}

/** Whether `value` may hold what `replacer` changes: false only for a primitive other than a bigint, or a flat object or array of such. */
function needsReplacer(value: unknown): boolean {
  if (typeof value === 'bigint') return true
  if (value === null || typeof value !== 'object') return false
  if (Object.getPrototypeOf(value) !== Object.prototype && !Array.isArray(value)) return true
  if ('toJSON' in value) return true
  for (const key in value) {
    const field = (value as Record<string, unknown>)[key]
    if (typeof field === 'bigint' || (field !== null && typeof field === 'object')) return true
  }
  return false
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Map) return { Map: [...value.entries()] }
  if (value instanceof Set) return { Set: [...value.values()] }
  if (typeof value === 'bigint') return `${value}n`
  return value
}

/** The default application: a counter and a running hash of everything applied. */
function counterApplication(): Application {
  let state = { count: 0, hash: 0 }
  return {
    entry: ({ value }) => {
      const text = JSON.stringify(value)
      let hash = state.hash
      for (let index = 0; index < text.length; index++) hash = (Math.imul(hash, 31) + text.charCodeAt(index)) | 0
      state = { count: state.count + 1, hash }
    },
    snapshot: () => state,
    restore: (snapshot) => {
      state = { ...(snapshot as typeof state) }
    },
  }
}

/**
 * The default workload: now and then a value, sometimes a burst, through a
 * random member. It changes each value after enqueue returned, as a caller
 * may: what is applied must be the value as it was at the call.
 */
function defaultWorkload(api: WorkloadApi, random: Random): void {
  if (api.members.length === 0 || !random.chance(0.25)) return
  const burst = random.chance(0.2) ? 1 + random.int(5) : 1
  for (let index = 0; index < burst; index++) {
    const id = random.pick(api.members)
    const value = { step: api.step, index, by: id, at: new Date() }
    api.enqueue(id, value).catch(() => {})
    value.by = 'changed after enqueue'
  }
}

/** This machine's clock, in milliseconds: the simulated one stands in for `performance.now()` while a run lasts. */
function realMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}

function isThenable<T = void>(value: unknown): value is Promise<T> {
  return typeof (value as Promise<T> | null)?.then === 'function'
}

function text(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

/** `text` from a little before where it first differs from `other`, clipped: where two long states part. */
function around(text: string, other: string): string {
  let first = 0
  while (first < text.length && first < other.length && text.charCodeAt(first) === other.charCodeAt(first)) first++
  const start = Math.max(0, first - AROUND_BEFORE)
  return `${start > 0 ? '...' : ''}${clip(text.slice(start))}`
}

/** Characters shown before the first difference of two states. */
const AROUND_BEFORE = 60

function clip(value: string | undefined): string {
  if (value === undefined) return 'an unserialisable value'
  return value.length > 160 ? `${value.slice(0, 160)}...` : value
}
