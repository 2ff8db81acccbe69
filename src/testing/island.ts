// The island simulator: a seeded run of 3 or 5 legislators (plus newcomers) on
// a simulated network and clock. A setup phase founds the island and admits
// the first members; a fault phase enqueues values while it loses, duplicates,
// delays and reorders messages, partitions the network and crashes members;
// a liveness phase heals everything and requires the island to converge. The
// history checker runs after every step. Everything random comes from the
// seed, so a run replays exactly. This is the legislator alone; the
// whole colleague (application, out-of-band, forwarding) runs in
// colleague-simulation.ts, on the real code rather than a model of it.

import { MEMBERS_MAX, membersOf, parliamentOf } from '../paxos/government.js'
import { MUTANTS } from '../paxos/mutants.js'
import { Legislator } from '../paxos/legislator.js'
import { quorumSize } from '../paxos/quorum.js'
import type {
  Accepted,
  Committed,
  EnqueueResult,
  Envelope,
  Government,
  LegislatorRefusal,
  Message,
  Mutant,
  Properties,
  Ready,
} from '../paxos/types.js'
import { HistoryChecker, submissionKey } from './checker.js'
import type { MemberView, Violation } from './checker.js'
import { NO_FAULTS, SimulatedNetwork } from './network.js'
import type { NetworkStats } from './network.js'
import { checkInteger, checkKind, checkKnown, checkObject, checkOneOf, checkSeed } from './options-check.js'
import { createRandom } from './prng.js'
import type { Random } from './prng.js'

/** The part of the legislator (src/paxos/API.md) the simulator drives. */
export interface SimulatedLegislator {
  readonly id: string
  readonly government: Government | null
  readonly commit: number
  readonly isLeader: boolean
  readonly naturalized: boolean
  readonly pending: number
  bootstrap(islandId: string, properties: Properties): void
  tick(): void
  receive(from: string, message: Message): void
  enqueue(value: unknown): EnqueueResult
  immigrate(id: string, properties: Properties): LegislatorRefusal | null
  naturalize(): void
  ready(): Ready
  inspect(): unknown
}

export interface LegislatorFactoryOptions {
  readonly id: string
  readonly random: () => number
  readonly parliamentSize: number
  readonly mutant?: Mutant
}

export type LegislatorFactory = (options: LegislatorFactoryOptions) => SimulatedLegislator

export const FAULT_TYPES = [
  'loss',
  'duplicate',
  'delay',
  'reorder',
  'partition',
  'one-way',
  'isolate-leader',
  'heal',
  'crash',
  'crash-beyond-quorum',
  'newcomer',
  'pause',
] as const
export type FaultType = (typeof FAULT_TYPES)[number]
/** A crash beyond quorum is not drawn: it is counted when a drawn crash would take the quorum. */
type DrawnFault = Exclude<FaultType, 'crash-beyond-quorum'>

export interface SimulateOptions {
  readonly seed: number
  /** Members of the founding parliament; default 3 for odd seeds, 5 for even ones. */
  readonly members?: 3 | 5
  readonly mutant?: Mutant
  /** Odd limit on the parliament, given to every legislator; default 5, so a 3-member island can grow. */
  readonly parliamentSize?: number
  /** Ticks of the fault phase. */
  readonly steps?: number
  /** Ticks the founding members get to form their parliament. */
  readonly setupTicksMax?: number
  /** Ticks the island gets to converge once the faults heal. */
  readonly livenessTicksMax?: number
  /** Values enqueued during the fault phase, at most; default one per 5 steps. */
  readonly enqueuesMax?: number
  /** Newcomers admitted during the fault phase, at most; default one per 60 steps. */
  readonly newcomersMax?: number
  /** Stop the run at its first violation (default true). */
  readonly stopAtFirstViolation?: boolean
  /** Receives one line per notable event, for replaying a seed by hand. */
  readonly trace?: (line: string) => void
  /** Builds each legislator; default `new Legislator(options)`. */
  readonly createLegislator?: LegislatorFactory
}

export interface SimulationStats {
  members: number
  ticks: number
  enqueues: number
  enqueueRefusals: number
  acknowledged: number
  leaderChanges: number
  faults: Record<FaultType, number>
  newcomers: number
  arrivals: number
  /** Newcomers that crashed because their state transfer failed. */
  outOfBandFailures: number
  /** The liveness phase had a quorum and converged. */
  converged: boolean
  /** A quorum of the parliament was lost for good, so liveness was not required. */
  quorumLost: boolean
  network: NetworkStats
}

export interface SimulationResult {
  readonly seed: number
  readonly members: 3 | 5
  readonly violations: readonly Violation[]
  readonly stats: SimulationStats
}

type Phase = 'immigrant' | 'copying' | 'citizen'

interface Member {
  readonly id: string
  readonly legislator: SimulatedLegislator
  alive: boolean
  phase: Phase
  /** Ticks spent in the current phase (immigrant or copying). */
  waitedTicks: number
  immigrateAttempts: number
  arrivalPosition: number
  arrivalLeader: string
  /** Seqs this member's enqueues were given. */
  readonly submitted: number[]
  wasLeader: boolean
  /** While `tick < pausedUntil` the member is paused: no ticks, its envelopes wait in `inbox`. */
  pausedUntil: number
  readonly inbox: Envelope[]
}

/** Distinct proposed governments remembered past the latest committed one. */
const PROPOSED_MAX = 64

const DEFAULTS = {
  steps: 3000,
  setupTicksMax: 400,
  livenessTicksMax: 400,
  parliamentSize: 5,
  stepsPerEnqueue: 5,
  stepsPerNewcomer: 60,
  joinTicksMax: 60,
  joinAttemptsMax: 3,
  outOfBandTicksMax: 20,
  enqueueRate: 0.2,
  faultRate: 0.15,
  /** Partitions heal by themselves after 3 to this many ticks. */
  partitionTicksMax: 40,
  beyondQuorumRate: 0.03,
  /** Chance per tick that a newcomer replaces a lost member, as a supervisor would restart it. */
  replaceRate: 0.05,
  /** A paused member neither ticks nor handles messages for up to this many ticks. */
  pauseTicksMax: 30,
  /** Envelopes held for a paused member; more are dropped. */
  pausedInboxMax: 1024,
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
  ['crash', 2],
  ['newcomer', 2],
  ['pause', 2],
]

function defaultFactory(options: LegislatorFactoryOptions): SimulatedLegislator {
  return new Legislator(options)
}

function emptyFaultCounts(): Record<FaultType, number> {
  const counts = {} as Record<FaultType, number>
  for (const type of FAULT_TYPES) counts[type] = 0
  return counts
}

function describe(committed: Committed): string {
  const { entry } = committed
  switch (entry.type) {
    case 'government':
      return `government ${entry.government.number}`
    case 'value':
      return `${entry.submission.from}#${entry.submission.seq}${committed.apply ? '' : ' (skipped)'}`
    case 'noop':
      return 'noop'
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

class IslandSimulation {
  readonly #seed: number
  readonly #size: 3 | 5
  readonly #parliamentSize: number
  readonly #mutant: Mutant | undefined
  readonly #random: Random
  readonly #network: SimulatedNetwork
  readonly #checker: HistoryChecker
  readonly #members = new Map<string, Member>()
  readonly #factory: LegislatorFactory
  readonly #trace: ((line: string) => void) | undefined
  readonly #stopAtFirstViolation: boolean
  readonly #options: SimulateOptions
  readonly stats: SimulationStats
  #tick = 0
  #nextId = 1
  #valueCounter = 0
  #latest: Government | null = null
  /**
   * Governments proposed in accept rounds past the latest committed one: any
   * of them may already be chosen, so crashes must keep their quorums too.
   */
  #proposed = new Map<string, Government>()
  #leaderSeen = false
  /** Tick at which the current partitions heal by themselves. */
  #healTick = 0
  /** Highest position already written to the trace. */
  #tracedThrough = -1

  constructor(options: SimulateOptions) {
    this.#options = options
    this.#seed = options.seed
    this.#size = options.members ?? (Math.abs(options.seed) % 2 === 0 ? 5 : 3)
    this.#mutant = options.mutant
    this.#random = createRandom(options.seed)
    this.#network = new SimulatedNetwork(this.#random.fork('network'))
    this.#parliamentSize = options.parliamentSize ?? DEFAULTS.parliamentSize
    this.#checker = new HistoryChecker(options.seed, { parliamentSize: this.#parliamentSize })
    this.#factory = options.createLegislator ?? defaultFactory
    this.#trace = options.trace
    this.#stopAtFirstViolation = options.stopAtFirstViolation ?? true
    this.stats = {
      members: this.#size,
      ticks: 0,
      enqueues: 0,
      enqueueRefusals: 0,
      acknowledged: 0,
      leaderChanges: 0,
      faults: emptyFaultCounts(),
      newcomers: 0,
      arrivals: 0,
      outOfBandFailures: 0,
      converged: false,
      quorumLost: false,
      network: this.#network.stats,
    }
  }

  get violations(): readonly Violation[] {
    return this.#checker.violations
  }

  #stopped(): boolean {
    return this.#stopAtFirstViolation && this.#checker.violations.length > 0
  }

  #log(line: string): void {
    this.#trace?.(`[${this.#tick}] ${line}`)
  }

  run(): void {
    const actions = this.#random.fork('actions')
    if (this.#setup()) {
      this.#faultPhase(actions)
      if (!this.#stopped()) this.#livenessPhase()
    }
    this.#finish()
  }

  // ---- phases ----

  /** Found the island and admit the other founders. False when it failed. */
  #setup(): boolean {
    const founder = this.#addMember('citizen')
    if (!this.#guard(founder, 'bootstrap', () => founder.legislator.bootstrap(`island-${this.#seed}`, this.#propertiesOf(founder.id)))) {
      return false
    }
    for (let index = 1; index < this.#size; index++) {
      const newcomer = this.#addMember('immigrant')
      this.#immigrate(newcomer, founder)
    }
    const ticksMax = this.#options.setupTicksMax ?? DEFAULTS.setupTicksMax
    for (let tick = 0; tick < ticksMax && !this.#stopped(); tick++) {
      this.#step()
      if (this.#formed()) {
        this.#log('setup: parliament formed')
        return true
      }
    }
    if (!this.#stopped()) this.#checker.report('liveness', `setup: no parliament of ${this.#size} after ${ticksMax} ticks`)
    return false
  }

  #formed(): boolean {
    const government = this.#latest
    const expected = Math.min(this.#size, this.#parliamentSize)
    if (government === null || parliamentOf(government).length !== expected) return false
    const founders = [...this.#members.values()]
    return (
      founders.every((member) => member.alive && member.phase === 'citizen' && member.legislator.naturalized) &&
      this.#converged() === null
    )
  }

  #faultPhase(actions: Random): void {
    const steps = this.#options.steps ?? DEFAULTS.steps
    const enqueuesMax = this.#options.enqueuesMax ?? Math.ceil(steps / DEFAULTS.stepsPerEnqueue)
    for (let tick = 0; tick < steps && !this.#stopped(); tick++) {
      const alive = this.#alive()
      // Without a quorum nothing more can be decided; the rest of the phase would only idle.
      if (alive.length === 0 || !this.#hasQuorum(null, false)) break
      if (this.stats.enqueues < enqueuesMax && actions.chance(DEFAULTS.enqueueRate)) {
        const burst = actions.chance(0.2) ? 1 + actions.int(5) : 1
        const member = actions.pick(alive)
        for (let index = 0; index < burst && this.stats.enqueues < enqueuesMax; index++) this.#enqueue(member)
      }
      if (actions.chance(DEFAULTS.faultRate)) this.#injectFault(actions)
      else if (this.#understaffed() && actions.chance(DEFAULTS.replaceRate) && this.#admitNewcomer(actions)) {
        this.stats.faults.newcomer++
      }
      if (this.#network.partitioned && this.#tick >= this.#healTick) {
        this.#network.heal()
        this.#log('partitions expire')
      }
      this.#step()
    }
  }

  #livenessPhase(): void {
    this.#network.heal()
    this.#network.setFaults(NO_FAULTS)
    for (const member of this.#alive()) member.pausedUntil = 0
    this.#log('liveness: healed')
    if (!this.#hasQuorum(null, false)) {
      this.stats.quorumLost = true
      this.#log('liveness: quorum lost for good, not required')
      return
    }
    for (const member of this.#islanders()) this.#enqueue(member)
    const ticksMax = this.#options.livenessTicksMax ?? DEFAULTS.livenessTicksMax
    let problem: string | null = 'not run'
    for (let tick = 0; tick < ticksMax && !this.#stopped(); tick++) {
      this.#step()
      problem = this.#converged()
      if (problem === null) {
        this.stats.converged = true
        this.#log('liveness: converged')
        return
      }
    }
    if (this.#stopped()) return
    if (!this.#hasQuorum(null, true) && !this.#leadingLatest()) {
      // Members that never learned the latest government need a quorum of
      // their own, older one, and it is gone: the island is legitimately stuck.
      this.stats.quorumLost = true
      this.#log(`liveness: an older government lost its quorum, not required (${problem})`)
      return
    }
    this.#checker.report('liveness', `no convergence ${ticksMax} ticks after heal: ${problem}`)
  }

  /** The latest government's leader is alive, leads, and works under that government. */
  #leadingLatest(): boolean {
    const government = this.#latest
    const leader = this.#members.get(government?.majority[0] ?? '')
    return (
      government !== null &&
      leader !== undefined &&
      leader.alive &&
      leader.legislator.isLeader &&
      leader.legislator.government?.number === government.number
    )
  }

  #finish(): void {
    this.stats.ticks = this.#tick
    this.stats.acknowledged = this.#checker.acknowledgedCount
    if (this.#stopped()) return
    const survivors = this.#islanders()
    this.#checker.checkFinal(survivors.map((member) => member.id))
  }

  // ---- one step ----

  #step(): void {
    this.#tick++
    this.#checker.step = this.#tick
    for (const member of this.#alive()) {
      if (member.inbox.length === 0 || this.#paused(member)) continue
      for (const envelope of member.inbox.splice(0)) this.#deliver(member, envelope)
    }
    for (const envelope of this.#network.advance()) {
      const member = this.#members.get(envelope.to)
      if (member === undefined || !member.alive) continue
      if (!this.#paused(member)) this.#deliver(member, envelope)
      else if (member.inbox.length < DEFAULTS.pausedInboxMax) member.inbox.push(envelope)
    }
    for (const member of this.#alive()) {
      if (!this.#paused(member)) this.#guard(member, 'tick', () => member.legislator.tick())
    }
    for (const member of this.#alive()) this.#drain(member)
    for (const member of this.#alive()) this.#advanceNewcomer(member)
    this.#retireExiled()
    this.#observe()
  }

  #paused(member: Member): boolean {
    return this.#tick < member.pausedUntil
  }

  #deliver(member: Member, envelope: Envelope): void {
    if (!member.alive) return
    this.#guard(member, 'receive', () => member.legislator.receive(envelope.from, envelope.message))
  }

  #drain(member: Member): void {
    let ready: Ready | null = null
    this.#guard(member, 'ready', () => {
      ready = member.legislator.ready()
    })
    if (ready === null) return
    const { messages, committed } = ready as Ready
    for (const envelope of messages) {
      if (envelope.from !== member.id) {
        this.#checker.report('exception', `${member.id} sent an envelope from ${envelope.from}`)
        continue
      }
      if (envelope.message.type === 'accept') this.#noteProposals(envelope.message.entries)
      this.#network.send(envelope)
    }
    for (const entry of committed) {
      this.#checker.recordCommitted(member.id, entry)
      this.#onCommitted(member, entry)
    }
  }

  #onCommitted(member: Member, committed: Committed): void {
    const { entry } = committed
    if (entry.type === 'government') this.#noteGovernment(entry.government)
    if (this.#trace !== undefined && committed.position > this.#tracedThrough) {
      this.#tracedThrough = committed.position
      this.#log(`${member.id} commits ${committed.position} (${committed.promise}): ${describe(committed)}`)
    }
    if (member.phase === 'immigrant') {
      member.arrivalPosition = committed.position
      member.arrivalLeader = entry.type === 'government' ? (entry.government.majority[0] ?? '') : ''
      member.phase = 'copying'
      member.waitedTicks = 0
      this.stats.arrivals++
      this.#log(`${member.id} arrived at ${committed.position}, state from ${member.arrivalLeader}`)
    }
  }

  #noteProposals(entries: readonly Accepted[]): void {
    const latest = this.#latest?.number ?? 0
    for (const { entry } of entries) {
      if (entry.type !== 'government' || entry.government.number <= latest) continue
      const key = JSON.stringify(parliamentOf(entry.government))
      if (this.#proposed.size < PROPOSED_MAX) this.#proposed.set(`${entry.government.number}:${key}`, entry.government)
    }
  }

  #noteGovernment(government: Government): void {
    if (this.#latest !== null && government.number <= this.#latest.number) return
    this.#latest = government
    for (const [key, proposed] of this.#proposed) {
      if (proposed.number <= government.number) this.#proposed.delete(key)
    }
    this.#log(
      `government ${government.number}: majority ${government.majority.join(',')} minority ${government.minority.join(',')} constituents ${government.constituents.join(',')}`,
    )
  }

  /** Moves a newcomer through joining and the out-of-band state transfer. */
  #advanceNewcomer(member: Member): void {
    if (member.phase === 'immigrant') {
      member.waitedTicks++
      if (member.waitedTicks <= DEFAULTS.joinTicksMax) return
      const via = this.#islanders().filter((other) => other.phase === 'citizen')
      if (member.immigrateAttempts >= DEFAULTS.joinAttemptsMax || via.length === 0) {
        this.#log(`${member.id} gave up joining`)
        this.#crash(member)
        return
      }
      this.#immigrate(member, this.#random.fork(`join:${member.id}:${member.immigrateAttempts}`).pick(via))
      return
    }
    if (member.phase === 'copying') this.#copyState(member)
  }

  /**
   * What the legislator sees of a newcomer's state transfer: it naturalizes
   * once its arrival government's leader is reachable and has committed up to
   * the arrival, and is lost when that leader is gone, unreachable or slow.
   * The transfer itself, the application state and the out-of-band rules are
   * the colleague's; `simulate` in colleague-simulation.ts runs the real ones.
   */
  #copyState(member: Member): void {
    const leader = this.#members.get(member.arrivalLeader)
    const reachable =
      leader !== undefined &&
      leader.alive &&
      leader.phase === 'citizen' &&
      !this.#network.isBlocked(member.id, leader.id) &&
      !this.#network.isBlocked(leader.id, member.id)
    if (!reachable || member.waitedTicks > DEFAULTS.outOfBandTicksMax) {
      this.stats.outOfBandFailures++
      this.#log(`${member.id} state transfer from ${member.arrivalLeader} failed`)
      this.#crash(member)
      return
    }
    if (leader.legislator.commit < member.arrivalPosition - 1) {
      member.waitedTicks++
      return
    }
    member.phase = 'citizen'
    this.#guard(member, 'naturalize', () => member.legislator.naturalize())
    this.#log(`${member.id} naturalizes`)
  }

  /**
   * A member left out of the latest government was exiled: as a colleague it
   * would shut down and come back only as a newcomer, so it is gone here.
   */
  #retireExiled(): void {
    const government = this.#latest
    if (government === null) return
    const ids = new Set(membersOf(government))
    for (const member of this.#members.values()) {
      if (!member.alive || member.phase === 'immigrant' || ids.has(member.id)) continue
      this.#log(`${member.id} was exiled and retires`)
      this.#crash(member)
    }
  }

  /** Fewer live members (and newcomers on their way) than the island was founded with. */
  #understaffed(): boolean {
    return this.#alive().length < this.#size
  }

  #observe(): void {
    const views: MemberView[] = []
    for (const member of this.#alive()) {
      const { legislator } = member
      const isLeader = legislator.isLeader
      if (isLeader && !member.wasLeader) {
        if (this.#leaderSeen) this.stats.leaderChanges++
        this.#leaderSeen = true
        this.#log(`${member.id} leads`)
      }
      member.wasLeader = isLeader
      views.push({
        id: member.id,
        commit: legislator.commit,
        isLeader,
        inspect: () => legislator.inspect(),
      })
    }
    this.#checker.checkStep(views)
  }

  // ---- actions ----

  #enqueue(member: Member): void {
    if (!member.alive) return
    const value = { n: ++this.#valueCounter, by: member.id }
    let result: EnqueueResult | null = null
    this.#guard(member, 'enqueue', () => {
      result = member.legislator.enqueue(value)
    })
    if (result === null) return
    const outcome = result as EnqueueResult
    if (!outcome.ok) {
      this.stats.enqueueRefusals++
      return
    }
    this.stats.enqueues++
    member.submitted.push(outcome.seq)
    this.#checker.recordEnqueue(member.id, outcome.from, outcome.seq, value)
    this.#log(`${member.id} enqueues ${outcome.from}#${outcome.seq}`)
  }

  #injectFault(actions: Random): void {
    const total = FAULT_WEIGHTS.reduce((sum, [, weight]) => sum + weight, 0)
    let roll = actions.next() * total
    let type: DrawnFault = 'heal'
    for (const [candidate, weight] of FAULT_WEIGHTS) {
      roll -= weight
      if (roll < 0) {
        type = candidate
        break
      }
    }
    if (this.#applyFault(type, actions)) {
      this.stats.faults[type]++
    }
  }

  #partitionFor(actions: Random): void {
    const until = this.#tick + 3 + actions.int(DEFAULTS.partitionTicksMax - 2)
    this.#healTick = Math.max(this.#healTick, until)
  }

  /** Applies one fault; false when it did not apply (e.g. no member may crash). */
  #applyFault(type: DrawnFault, actions: Random): boolean {
    const alive = this.#alive().map((member) => member.id)
    switch (type) {
      case 'loss':
        this.#network.setFaults({ lossRate: actions.pick([0, 0.02, 0.1, 0.3]) })
        break
      case 'duplicate':
        this.#network.setFaults({ duplicateRate: actions.pick([0, 0.05, 0.2]) })
        break
      case 'delay':
        this.#network.setFaults({ delayTicksMax: actions.pick([0, 1, 3, 8]) })
        break
      case 'reorder':
        this.#network.setFaults({ reorderRate: actions.pick([0, 0.5, 1]) })
        break
      case 'partition': {
        const left = alive.filter(() => actions.chance(0.5))
        const right = alive.filter((id) => !left.includes(id))
        if (left.length === 0 || right.length === 0) return false
        this.#network.partition(left, right)
        this.#partitionFor(actions)
        this.#log(`partition ${left.join(',')} | ${right.join(',')}`)
        break
      }
      case 'one-way': {
        const from = alive.filter(() => actions.chance(0.4))
        const to = alive.filter((id) => !from.includes(id) && actions.chance(0.6))
        if (from.length === 0 || to.length === 0) return false
        this.#network.partitionOneWay(from, to)
        this.#partitionFor(actions)
        this.#log(`one-way ${from.join(',')} -> ${to.join(',')}`)
        break
      }
      case 'isolate-leader': {
        const leader = this.#latest?.majority[0]
        if (leader === undefined || !alive.includes(leader)) return false
        this.#network.partition([leader], alive)
        this.#partitionFor(actions)
        this.#log(`isolate leader ${leader}`)
        break
      }
      case 'heal':
        this.#network.heal()
        if (actions.chance(0.5)) this.#network.setFaults(NO_FAULTS)
        this.#log('heal')
        break
      case 'crash':
        return this.#crashSomeone(actions)
      case 'newcomer':
        return this.#admitNewcomer(actions)
      case 'pause': {
        const leaderId = this.#latest?.majority[0]
        const target = (actions.chance(0.5) ? this.#members.get(leaderId ?? '') : undefined) ?? actions.pick(this.#alive())
        if (!target.alive || this.#paused(target)) return false
        target.pausedUntil = this.#tick + 1 + actions.int(DEFAULTS.pauseTicksMax)
        this.#log(`pause ${target.id} until ${target.pausedUntil}`)
        break
      }
    }
    return true
  }

  #crashSomeone(actions: Random): boolean {
    const candidates = this.#alive()
    if (candidates.length <= 1) return false
    const leaderId = this.#latest?.majority[0]
    const preferLeader = actions.chance(0.5)
    const target =
      (preferLeader ? candidates.find((member) => member.id === leaderId) : undefined) ?? actions.pick(candidates)
    if (!this.#hasQuorum(target.id, true)) {
      if (!actions.chance(DEFAULTS.beyondQuorumRate)) return false
      this.stats.faults['crash-beyond-quorum']++
      this.#log(`crash ${target.id} beyond quorum`)
      this.#crash(target)
      return false
    }
    this.#log(`crash ${target.id}`)
    this.#crash(target)
    return true
  }

  #admitNewcomer(actions: Random): boolean {
    const steps = this.#options.steps ?? DEFAULTS.steps
    const newcomersMax = this.#options.newcomersMax ?? Math.ceil(steps / DEFAULTS.stepsPerNewcomer)
    if (this.stats.newcomers >= newcomersMax || this.#alive().length >= this.#size + 2) return false
    const via = this.#islanders().filter((member) => member.phase === 'citizen')
    if (via.length === 0) return false
    const newcomer = this.#addMember('immigrant')
    this.stats.newcomers++
    this.#immigrate(newcomer, actions.pick(via))
    return true
  }

  #immigrate(newcomer: Member, via: Member): void {
    newcomer.immigrateAttempts++
    newcomer.waitedTicks = 0
    let refusal: LegislatorRefusal | null = null
    this.#guard(via, 'immigrate', () => {
      refusal = via.legislator.immigrate(newcomer.id, this.#propertiesOf(newcomer.id))
    })
    this.#log(`${newcomer.id} joins through ${via.id}${refusal === null ? '' : `: refused ${String(refusal)}`}`)
  }

  // ---- members ----

  #addMember(phase: Phase): Member {
    const id = `m${this.#nextId++}`
    const stream = this.#random.fork(`legislator:${id}`)
    const options: LegislatorFactoryOptions =
      this.#mutant === undefined
        ? { id, random: () => stream.next(), parliamentSize: this.#parliamentSize }
        : { id, random: () => stream.next(), parliamentSize: this.#parliamentSize, mutant: this.#mutant }
    const member: Member = {
      id,
      legislator: this.#factory(options),
      alive: true,
      phase,
      waitedTicks: 0,
      immigrateAttempts: 0,
      arrivalPosition: -1,
      arrivalLeader: '',
      submitted: [],
      wasLeader: false,
      pausedUntil: 0,
      inbox: [],
    }
    this.#members.set(id, member)
    return member
  }

  #propertiesOf(id: string): Properties {
    return { location: `sim://${id}` }
  }

  #crash(member: Member): void {
    if (!member.alive) return
    member.alive = false
    member.wasLeader = false
    this.#network.remove(member.id)
  }

  #alive(): Member[] {
    const alive: Member[] = []
    for (const member of this.#members.values()) if (member.alive) alive.push(member)
    return alive
  }

  /** Live members named in the latest government. */
  #islanders(): Member[] {
    const government = this.#latest
    if (government === null) return []
    const ids = new Set(membersOf(government))
    return this.#alive().filter((member) => ids.has(member.id))
  }

  /**
   * Whether every government that may still decide something keeps a live
   * quorum without `excluded`: the latest committed one, every one proposed
   * since, and with `laggards` the one each live member still works under (a
   * member that has not learned of a newer government needs a quorum of its
   * own, older one, to catch up through an election).
   */
  #hasQuorum(excluded: string | null, laggards: boolean): boolean {
    const governments = new Map<number, Government>()
    if (this.#latest !== null) governments.set(this.#latest.number, this.#latest)
    for (const member of laggards ? this.#islanders() : []) {
      const own = member.legislator.government
      if (own !== null && !governments.has(own.number)) governments.set(own.number, own)
    }
    for (const government of [...governments.values(), ...this.#proposed.values()]) {
      const parliament = parliamentOf(government)
      const live = parliament.filter((id) => id !== excluded && this.#members.get(id)?.alive === true).length
      if (live < quorumSize(parliament.length)) return false
    }
    return true
  }

  /** Null when the island has converged, else what is still missing. */
  #converged(): string | null {
    const government = this.#latest
    if (government === null) return 'no government'
    const leaderId = government.majority[0]
    const leader = leaderId === undefined ? undefined : this.#members.get(leaderId)
    if (leader === undefined || !leader.alive) return `leader ${leaderId ?? '?'} of government ${government.number} is gone`
    if (!leader.legislator.isLeader) return `${leader.id} is not leading`
    const commit = leader.legislator.commit
    for (const member of this.#islanders()) {
      const { legislator } = member
      if (member.phase !== 'citizen') return `${member.id} is still ${member.phase}`
      if (legislator.commit !== commit) return `${member.id} commit ${legislator.commit}, leader ${commit}`
      if (legislator.pending !== 0) return `${member.id} has ${legislator.pending} pending`
      const unresolved = member.submitted.find((seq) => !this.#checker.isAcknowledged(member.id, seq))
      if (unresolved !== undefined) return `${member.id}#${unresolved} never applied`
    }
    return null
  }

  /** Runs a legislator call; a throw is a violation and the member is gone. */
  #guard(member: Member, what: string, call: () => void): boolean {
    try {
      call()
      return true
    } catch (error) {
      this.#checker.report('exception', `${member.id} ${what}: ${errorText(error)}`)
      this.#crash(member)
      return false
    }
  }
}

/** Runs one seeded island; the same options always give the same result. */
const LEGISLATOR_SIMULATE_OPTIONS: ReadonlyArray<keyof SimulateOptions> = [
  'seed', 'members', 'mutant', 'parliamentSize', 'steps', 'setupTicksMax', 'livenessTicksMax', 'enqueuesMax', 'newcomersMax',
  'stopAtFirstViolation', 'trace', 'createLegislator',
]

export function simulate(options: SimulateOptions): SimulationResult {
  checkObject(options, 'simulateLegislators()')
  checkKnown(options, LEGISLATOR_SIMULATE_OPTIONS, 'simulateLegislators()')
  checkSeed(options)
  checkOneOf(options, 'members', [3, 5])
  checkInteger(options, 'parliamentSize', 1, MEMBERS_MAX, true)
  for (const name of ['steps', 'setupTicksMax', 'livenessTicksMax', 'enqueuesMax', 'newcomersMax']) checkInteger(options, name, 0, Number.MAX_SAFE_INTEGER)
  for (const name of ['trace', 'createLegislator']) checkKind(options, name, 'function')
  checkKind(options, 'stopAtFirstViolation', 'boolean')
  checkOneOf(options, 'mutant', MUTANTS)
  const simulation = new IslandSimulation(options)
  simulation.run()
  return {
    seed: options.seed,
    members: simulation.stats.members === 5 ? 5 : 3,
    violations: simulation.violations,
    stats: simulation.stats,
  }
}
