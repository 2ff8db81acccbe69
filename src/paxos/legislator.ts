import { BALLOT_ZERO, compareBallot, compareRoundOnly, isBallot } from './ballot.js'
import {
  bootstrapGovernment,
  isMember,
  isParliament,
  membersOf,
  nextGovernment,
  parliamentOf,
} from './government.js'
import { hasQuorum } from './quorum.js'
import { SubmissionSet, SubmitterLedger } from './submitters.js'
import { isMessage } from './validate.js'
import type {
  Accepted,
  Ballot,
  Committed,
  EnqueueResult,
  Envelope,
  Government,
  LegislatorRefusal,
  LogEntry,
  Message,
  Mutant,
  PositionRange,
  Properties,
  Ready,
  RejectReason,
  Submission,
} from './types.js'

export interface LegislatorOptions {
  readonly id: string
  /** Seeded source in [0, 1): election backoff must differ per member. */
  readonly random: () => number
  readonly parliamentSize?: number
  readonly pingTicks?: number
  readonly timeoutTicks?: number
  /** Silence after which the leader exiles a member. */
  readonly exileTicks?: number
  /**
   * Election backoff: a member that hears no leader for `timeoutTicks`
   * stands after a further random 0 to `electionJitterTicks - 1` ticks,
   * drawn anew each time. Default `2 * timeoutTicks`.
   */
  readonly electionJitterTicks?: number
  readonly batchEntriesMax?: number
  readonly inflightMax?: number
  readonly pendingMax?: number
  readonly chosenMax?: number
  readonly membersMax?: number
  /** Test switch: run a deliberately broken core. */
  readonly mutant?: Mutant
}

export type Role = 'newcomer' | 'follower' | 'candidate' | 'leader' | 'exiled'

export interface LegislatorInspection {
  readonly id: string
  readonly role: Role
  readonly ballot: Ballot | null
  readonly promised: Ballot
  readonly commit: number
  readonly trim: number
  readonly logSize: number
  readonly governmentPosition: number
  /** New government proposals of this leader not yet chosen (at most one). */
  readonly governmentsInFlight: number
  readonly inflightPositions: number
  readonly queued: number
  readonly pending: number
}

/** A log position as this member holds it; also handed out, as is, to be persisted. */
interface Slot {
  readonly position: number
  readonly ballot: Ballot
  readonly entry: LogEntry
  chosen: boolean
}

/** One accept round: contiguous positions decided by one parliament. */
interface Round {
  readonly from: number
  readonly to: number
  readonly parliament: readonly string[]
  readonly acks: Set<string>
  sentTick: number
  chosen: boolean
  /** A new government proposed by this leader (not a re-proposal). */
  readonly government: boolean
}

interface Progress {
  /** Its commit position as it last reported; a guess until `answered`. */
  commit: number
  answered: boolean
  heardTick: number
  /** Commit at the previous ping, to spot a member that stopped advancing; null before it answered. */
  pingCommit: number | null
  catchingUp: boolean
  chosenSentTo: number
}

interface Candidacy {
  readonly ballot: Ballot
  readonly promises: Map<string, { accepted: readonly Accepted[]; commit: number }>
  readonly asked: Set<string>
  sentTick: number
}

interface Leadership {
  readonly ballot: Ballot
  next: number
  readonly rounds: Round[]
  readonly progress: Map<string, Progress>
  readonly queue: Submission[]
  /** from/seq keys queued or proposed and not yet chosen. */
  readonly queuedKeys: SubmissionSet
  /** Positions up to which re-proposals from phase 1 run; the election government follows. */
  recoveredTo: number
  electionGovernment: boolean
  readonly immigrate: Map<string, Properties>
  readonly naturalize: Set<string>
  readonly exile: Set<string>
  /** The parliament deciding the next position proposed. */
  parliament: readonly string[]
  /** Governments proposed (or re-proposed) and not yet applied, by position. */
  readonly proposed: Map<number, Government>
  recipients: Set<string>
  /** The commit position last announced to every recipient. */
  commitAnnounced: number
  /**
   * Chosen since the last announcement: an entry another member waits on
   * (its own submission, a government, a re-proposal). When only this
   * leader's own submissions were chosen, the commit point can ride on the
   * next round or heartbeat instead of costing a message per member.
   */
  announceWanted: boolean
}

const DEFAULTS = {
  parliamentSize: 5,
  pingTicks: 1,
  timeoutTicks: 5,
  batchEntriesMax: 256,
  inflightMax: 4096,
  pendingMax: 8192,
  chosenMax: 1024,
  membersMax: 64,
}

/**
 * The Multi-Paxos state machine of one colleague. Synchronous and
 * deterministic: it reads no clock, does no I/O and draws randomness only from
 * the source it is given. Drive it with `tick`, `receive`, `enqueue` and the
 * membership calls; collect what it wants done with `ready`.
 */
export class Legislator {
  readonly id: string
  readonly #random: () => number
  readonly #compare: (a: Ballot, b: Ballot) => number
  readonly #mutant: Mutant | null
  readonly #parliamentSize: number
  readonly #pingTicks: number
  readonly #timeoutTicks: number
  readonly #exileTicks: number
  readonly #electionJitterTicks: number
  readonly #batchEntriesMax: number
  readonly #inflightMax: number
  readonly #pendingMax: number
  readonly #chosenMax: number
  readonly #membersMax: number

  #role: Role = 'newcomer'
  #now = 0
  #promised: Ballot = BALLOT_ZERO
  #roundSeen = 0
  #government: Government | null = null
  #governmentPosition = -1
  #commit = -1
  #trim = -1
  #log = new Map<number, Slot>()
  #logEnd = -1
  #ledger = new SubmitterLedger()
  #naturalized = false
  #arrival: string | null = null
  /** Properties of remembered exiles, so a refusal can still reach them. */
  readonly #exiledProperties = new Map<string, Properties>()

  #leaderId: string | null = null
  #leaderTick = 0
  #electionTick = 0
  #candidacy: Candidacy | null = null
  #leadership: Leadership | null = null

  #seq = 0
  readonly #pending = new Map<number, unknown>()
  #forwardTick = 0
  #probeTick = 0
  /** Senders already told this tick that they were exiled. */
  readonly #toldExiled = new Set<string>()
  #membershipTick = 0

  #outMessages: Envelope[] = []
  #outCommitted: Committed[] = []
  #outAccepted: Accepted[] = []
  #outPromised: Ballot | null = null
  /** Submissions enqueued since the last `ready`, forwarded to the leader in one message. */
  #outForward: Submission[] = []

  constructor(options: LegislatorOptions) {
    this.id = options.id
    this.#random = options.random
    this.#mutant = options.mutant ?? null
    this.#compare = this.#mutant === 'ballot-no-tiebreak' ? compareRoundOnly : compareBallot
    this.#parliamentSize = options.parliamentSize ?? DEFAULTS.parliamentSize
    this.#pingTicks = options.pingTicks ?? DEFAULTS.pingTicks
    this.#timeoutTicks = options.timeoutTicks ?? DEFAULTS.timeoutTicks
    this.#exileTicks = options.exileTicks ?? this.#timeoutTicks * 2
    this.#electionJitterTicks = options.electionJitterTicks ?? this.#timeoutTicks * 2
    this.#batchEntriesMax = options.batchEntriesMax ?? DEFAULTS.batchEntriesMax
    this.#inflightMax = options.inflightMax ?? DEFAULTS.inflightMax
    this.#pendingMax = options.pendingMax ?? DEFAULTS.pendingMax
    this.#chosenMax = options.chosenMax ?? DEFAULTS.chosenMax
    this.#membersMax = options.membersMax ?? DEFAULTS.membersMax
    assert(this.id.length > 0, 'legislator id must not be empty')
    assert(this.#parliamentSize >= 1 && this.#parliamentSize % 2 === 1, 'parliamentSize must be odd')
    assert(this.#pingTicks >= 1 && this.#timeoutTicks > this.#pingTicks, 'timeoutTicks must exceed pingTicks')
    assert(this.#electionJitterTicks >= 1, 'electionJitterTicks must be at least 1')
    this.#resetElectionTimer()
  }

  // ---------------------------------------------------------------- observers

  get government(): Government | null {
    return this.#government
  }

  get commit(): number {
    return this.#commit
  }

  get leader(): string | null {
    return this.#government?.majority[0] ?? null
  }

  get isLeader(): boolean {
    return this.#leadership !== null
  }

  get role(): Role {
    return this.#role
  }

  get naturalized(): boolean {
    return this.#naturalized
  }

  get pending(): number {
    return this.#pending.size
  }

  get arrival(): string | null {
    return this.#arrival
  }

  /** Properties of `id` as named by the latest government that knows it. */
  properties(id: string): Properties | undefined {
    const fromGovernment = this.#government?.properties[id] ?? this.#exiledProperties.get(id)
    if (fromGovernment !== undefined) return fromGovernment
    // A candidate may need to reach members of a government it has only seen accepted.
    for (let position = this.#logEnd; position > this.#commit; position--) {
      const slot = this.#log.get(position)
      if (slot?.entry.type === 'government') {
        const props = slot.entry.government.properties[id]
        if (props !== undefined) return props
      }
    }
    return undefined
  }

  inspect(): LegislatorInspection {
    const leadership = this.#leadership
    let governmentsInFlight = 0
    let inflightPositions = 0
    if (leadership !== null) {
      for (const round of leadership.rounds) {
        if (round.chosen) continue
        inflightPositions += round.to - round.from + 1
        if (round.government) governmentsInFlight++
      }
    }
    return {
      id: this.id,
      role: this.#role,
      ballot: leadership?.ballot ?? this.#candidacy?.ballot ?? null,
      promised: this.#promised,
      commit: this.#commit,
      trim: this.#trim,
      logSize: this.#log.size,
      governmentPosition: this.#governmentPosition,
      governmentsInFlight,
      inflightPositions,
      queued: leadership?.queue.length ?? 0,
      pending: this.#pending.size,
    }
  }

  // ---------------------------------------------------------------- commands

  /** Found a new island: this member is the whole government and its leader. */
  bootstrap(islandId: string, properties: Properties): void {
    assert(this.#role === 'newcomer' && this.#government === null, 'bootstrap on a member')
    const government = bootstrapGovernment(islandId, this.id, properties)
    const ballot: Ballot = { round: 1, id: this.id }
    this.#promised = ballot
    this.#outPromised = ballot
    this.#roundSeen = 1
    this.#store(0, ballot, { type: 'government', government }, true)
    this.#role = 'follower'
    this.#advanceCommit(0, ballot)
    this.#naturalized = true
    // The bootstrap government already names this member leader.
    this.#becomeLeader(ballot, -1, new Set(), false)
  }

  enqueue(value: unknown): EnqueueResult {
    if (this.#role === 'exiled') return { ok: false, code: 'EXILED' }
    if (this.#government === null) return { ok: false, code: 'NOT_A_MEMBER' }
    if (this.#pending.size >= this.#pendingMax) return { ok: false, code: 'QUEUE_FULL' }
    const seq = ++this.#seq
    this.#pending.set(seq, value)
    const submission: Submission = { from: this.id, seq, value }
    if (this.#leadership !== null) {
      this.#queueSubmission(this.#leadership, submission)
    } else {
      this.#outForward.push(submission)
    }
    return { ok: true, from: this.id, seq }
  }

  /** Ask the leader to admit a newcomer. Idempotent. */
  immigrate(id: string, properties: Properties): LegislatorRefusal | null {
    const government = this.#government
    if (this.#role === 'exiled') return 'EXILED'
    if (government === null) return 'NOT_A_MEMBER'
    if (government.exiled.includes(id)) return 'EXILED'
    if (isMember(government, id)) return null
    if (membersOf(government).length >= this.#membersMax) return 'ISLAND_FULL'
    if (this.#leadership !== null) {
      this.#leadership.immigrate.set(id, properties)
    } else {
      const leader = this.#currentLeaderId()
      if (leader !== null) this.#send(leader, { type: 'immigrate', id, properties })
    }
    return null
  }

  /** This member now holds the application state; the leader records it in a government. */
  naturalize(): void {
    if (this.#government === null || this.#naturalized) return
    this.#naturalized = true
    this.#sendNaturalize()
  }

  tick(): void {
    this.#now++
    this.#toldExiled.clear()
    switch (this.#role) {
      case 'leader':
        this.#onLeaderTick()
        break
      case 'follower':
      case 'candidate':
        this.#onFollowerTick()
        break
      default:
        break
    }
    this.#onSubmitterTick()
  }

  receive(from: string, message: Message): void {
    if (typeof from !== 'string' || from === this.id || !isMessage(message)) return
    if (this.#role === 'exiled') {
      // An exiled member still answers as an acceptor: the parliament that
      // exiled it may need its vote to finish deciding that very government.
      if (message.type === 'prepare') this.#receivePrepare(from, message)
      else if (message.type === 'accept') this.#receiveAccept(from, message)
      return
    }
    if (this.#government?.exiled.includes(from) === true && message.type !== 'reject') {
      if (message.type !== 'prepare') this.#tellExiled(from)
      else this.#receivePrepare(from, message)
      return
    }
    switch (message.type) {
      case 'prepare':
        return this.#receivePrepare(from, message)
      case 'promise':
        return this.#receivePromise(from, message)
      case 'accept':
        return this.#receiveAccept(from, message)
      case 'accepted':
        return this.#receiveAccepted(from, message)
      case 'reject':
        return this.#receiveReject(from, message)
      case 'forward':
        return this.#receiveForward(from, message)
      case 'immigrate':
        this.immigrate(message.id, message.properties)
        return
      case 'naturalize':
        return this.#receiveNaturalize(from, message)
      default:
        return
    }
  }

  ready(): Ready {
    if (this.#outForward.length > 0) {
      const leader = this.#currentLeaderId()
      if (this.#leadership !== null) {
        for (const submission of this.#outForward) this.#queueSubmission(this.#leadership, submission)
      } else if (leader !== null && leader !== this.id) {
        this.#send(leader, { type: 'forward', submissions: this.#outForward })
      }
      this.#outForward = []
    }
    if (this.#leadership !== null) {
      this.#propose(this.#leadership)
      this.#announceCommit(this.#leadership)
    }
    const ready: Ready = {
      persist: { promised: this.#outPromised, accepted: this.#outAccepted },
      messages: this.#outMessages,
      committed: this.#outCommitted,
    }
    this.#outMessages = []
    this.#outCommitted = []
    this.#outAccepted = []
    this.#outPromised = null
    return ready
  }

  // ---------------------------------------------------------------- timers

  #onLeaderTick(): void {
    const leadership = this.#leadership
    assert(leadership !== null, 'leader without leadership')
    const government = this.#government
    assert(government !== null, 'leader without government')
    if (this.#now % this.#pingTicks === 0) {
      for (const id of leadership.recipients) this.#sendHeartbeat(leadership, id)
      leadership.commitAnnounced = this.#commit
      leadership.announceWanted = false
      this.#retransmit(leadership)
    }
    // A leader that no longer hears a quorum of its parliament is the one cut
    // off: it steps down rather than exile the others or take more writes.
    const heard = new Set([this.id])
    for (const [id, progress] of leadership.progress) {
      if (this.#now - progress.heardTick <= this.#timeoutTicks) heard.add(id)
    }
    if (!hasQuorum(leadership.parliament, heard) || !hasQuorum(parliamentOf(government), heard)) {
      this.#stepDown()
      return
    }
    for (const id of membersOf(government)) {
      if (id === this.id) continue
      const progress = this.#progressOf(leadership, id)
      if (this.#now - progress.heardTick > this.#exileTicks) leadership.exile.add(id)
      // It needs entries this leader never held (it arrived later): only a fresh start helps.
      if (progress.answered && progress.commit < this.#trim) leadership.exile.add(id)
    }
  }

  #onFollowerTick(): void {
    const candidacy = this.#candidacy
    if (candidacy !== null && this.#now - candidacy.sentTick >= this.#pingTicks * 2) {
      candidacy.sentTick = this.#now
      for (const id of candidacy.asked) {
        if (!candidacy.promises.has(id)) this.#send(id, { type: 'prepare', ballot: candidacy.ballot, from: this.#commit + 1 })
      }
    }
    if (this.#now >= this.#electionTick) this.#startElection()
    this.#maybeProbe()
  }

  /**
   * A member no leader has spoken to for an exile timeout may have been
   * exiled without hearing of it (a constituent never stands for election,
   * so no refusal would reach it). It asks the parliament it knows, every
   * timeout, with an empty forward; whoever knows it was exiled says so.
   */
  #maybeProbe(): void {
    const government = this.#government
    if (government === null || this.#now - this.#leaderTick <= this.#exileTicks) return
    if (this.#now - this.#probeTick < this.#timeoutTicks) return
    this.#probeTick = this.#now
    for (const id of parliamentOf(government)) {
      if (id !== this.id) this.#send(id, { type: 'forward', submissions: [] })
    }
  }

  #onSubmitterTick(): void {
    if (this.#government === null || this.#role === 'exiled') return
    if (this.#pending.size > 0 && this.#now - this.#forwardTick >= this.#timeoutTicks) this.#forwardPending()
    if (this.#now - this.#membershipTick >= this.#timeoutTicks) {
      this.#membershipTick = this.#now
      if (this.#naturalized && !this.#government.naturalized.includes(this.id)) this.#sendNaturalize()
    }
  }

  #resetElectionTimer(): void {
    const jitter = Math.floor(this.#random() * this.#electionJitterTicks)
    this.#electionTick = this.#now + this.#timeoutTicks + jitter
  }

  // ---------------------------------------------------------------- election

  #startElection(): void {
    this.#resetElectionTimer()
    const government = this.#government
    if (government === null || !isParliament(government, this.id) || !this.#naturalized) return
    if (this.#leadership !== null) return
    const round = Math.max(this.#roundSeen, this.#promised.round) + 1
    const ballot: Ballot = { round, id: this.id }
    this.#roundSeen = round
    this.#promise(ballot)
    this.#role = 'candidate'
    const candidacy: Candidacy = {
      ballot,
      promises: new Map([[this.id, { accepted: this.#acceptedFrom(this.#commit + 1), commit: this.#commit }]]),
      asked: new Set([this.id]),
      sentTick: this.#now,
    }
    this.#candidacy = candidacy
    this.#ask(candidacy, parliamentOf(government))
    this.#evaluateCandidacy(candidacy)
  }

  #ask(candidacy: Candidacy, ids: readonly string[]): void {
    for (const id of ids) {
      if (candidacy.asked.has(id)) continue
      candidacy.asked.add(id)
      this.#send(id, { type: 'prepare', ballot: candidacy.ballot, from: this.#commit + 1 })
    }
  }

  #receivePrepare(from: string, message: Extract<Message, { type: 'prepare' }>): void {
    const government = this.#government
    if (government === null || !isBallot(message.ballot) || !Number.isSafeInteger(message.from)) return
    this.#noteRound(message.ballot)
    const reject = (reason: RejectReason): void =>
      this.#send(from, { type: 'reject', ballot: message.ballot, promised: this.#promised, commit: this.#commit, reason })
    if (government.exiled.includes(from)) return reject('exiled')
    if (!isMember(government, from)) return reject('not-member')
    const sameBallot = this.#compare(message.ballot, this.#promised) === 0
    // A member that hears a working leader does not help depose it.
    const leaderAlive =
      this.#role === 'leader' ||
      (this.#leaderId !== null && this.#leaderId !== from && this.#now - this.#leaderTick < this.#timeoutTicks)
    if (!sameBallot && leaderAlive) return reject('leader-alive')
    if (this.#compare(message.ballot, this.#promised) < 0) return reject('ballot')
    if (message.from <= this.#trim) return reject('trimmed')
    if (!sameBallot) {
      this.#stepDown()
      this.#promise(message.ballot)
      if (this.#mutant === 'drop-accepted-on-step-down') this.#dropUnchosen()
    }
    this.#send(from, {
      type: 'promise',
      ballot: message.ballot,
      accepted: this.#acceptedFrom(Math.max(message.from, this.#trim + 1)),
      commit: this.#commit,
    })
  }

  #receivePromise(from: string, message: Extract<Message, { type: 'promise' }>): void {
    const candidacy = this.#candidacy
    if (candidacy === null || !isBallot(message.ballot) || this.#compare(message.ballot, candidacy.ballot) !== 0) return
    if (!Array.isArray(message.accepted)) return
    candidacy.promises.set(from, { accepted: message.accepted, commit: message.commit })
    this.#evaluateCandidacy(candidacy)
  }

  /**
   * Phase 1 completes when, for every government that decides a position this
   * candidate will re-propose, a quorum of that government's parliament has
   * promised. Governments found accepted past the commit point extend the chain.
   */
  #evaluateCandidacy(candidacy: Candidacy): void {
    const government = this.#government
    assert(government !== null, 'candidate without government')
    const merged = this.#mergePromises(candidacy)
    let end = this.#commit
    for (const position of merged.keys()) end = Math.max(end, position)
    const parliaments: string[][] = [parliamentOf(government)]
    if (this.#mutant !== 'ignore-government-chain') {
      for (let position = this.#commit + 1; position <= end; position++) {
        const accepted = merged.get(position)
        if (accepted?.entry.type === 'government') parliaments.push(parliamentOf(accepted.entry.government))
      }
    }
    const voters = new Set(candidacy.promises.keys())
    let elected = true
    for (const parliament of parliaments) {
      this.#ask(candidacy, parliament)
      if (!hasQuorum(parliament, voters)) elected = false
    }
    if (!elected) return
    this.#candidacy = null
    this.#becomeLeader(candidacy.ballot, end, voters)
    const leadership = this.#leadership as Leadership | null
    assert(leadership !== null, 'elected without leadership')
    let runFrom = this.#commit + 1
    for (let position = this.#commit + 1; position <= end; position++) {
      const entry: LogEntry = merged.get(position)?.entry ?? { type: 'noop' }
      if (entry.type === 'government') {
        if (runFrom < position) this.#sendRound(leadership, runFrom, position - 1)
        this.#proposeAt(leadership, position, entry, false)
        runFrom = position + 1
      } else {
        this.#proposeAt(leadership, position, entry, false, true)
      }
    }
    if (runFrom <= end) this.#sendRound(leadership, runFrom, end)
  }

  /** Per position, the entry accepted under the highest ballot among the promises. */
  #mergePromises(candidacy: Candidacy): Map<number, Accepted> {
    const merged = new Map<number, Accepted>()
    const lowest = this.#mutant === 'phase1-lowest-ballot'
    for (const { accepted } of candidacy.promises.values()) {
      for (const item of accepted) {
        if (item.position <= this.#commit || !isBallot(item.ballot)) continue
        const current = merged.get(item.position)
        const order = current === undefined ? 1 : this.#compare(item.ballot, current.ballot)
        if (current === undefined || (lowest ? order < 0 : order > 0)) merged.set(item.position, item)
      }
    }
    return merged
  }

  /** `heard`: members known alive now (the promisers); the others count as silent. */
  #becomeLeader(ballot: Ballot, recoveredTo: number, heard: ReadonlySet<string> = new Set(), electionGovernment = true): void {
    const government = this.#government
    assert(government !== null, 'leader without government')
    this.#role = 'leader'
    this.#leaderId = this.id
    const progress = new Map<string, Progress>()
    this.#leadership = {
      ballot,
      next: Math.max(this.#commit, recoveredTo) + 1,
      rounds: [],
      progress,
      queue: [],
      queuedKeys: new SubmissionSet(),
      recoveredTo,
      electionGovernment,
      immigrate: new Map(),
      naturalize: new Set(),
      exile: new Set(),
      parliament: parliamentOf(government),
      proposed: new Map(),
      recipients: new Set(),
      commitAnnounced: -1,
      announceWanted: false,
    }
    this.#updateRecipients(this.#leadership)
    for (const id of membersOf(government)) {
      const progress = this.#progressOf(this.#leadership, id)
      if (!heard.has(id)) progress.heardTick = this.#now - this.#timeoutTicks - 1
    }
    if (this.#naturalized && !government.naturalized.includes(this.id)) this.#leadership.naturalize.add(this.id)
    for (const [seq, value] of this.#pending) this.#queueSubmission(this.#leadership, { from: this.id, seq, value })
  }

  #stepDown(): void {
    if (this.#role !== 'leader' && this.#role !== 'candidate') return
    this.#leadership = null
    this.#candidacy = null
    this.#role = 'follower'
    this.#resetElectionTimer()
  }

  #dropUnchosen(): void {
    for (let position = this.#commit + 1; position <= this.#logEnd; position++) {
      const slot = this.#log.get(position)
      if (slot !== undefined && !slot.chosen) this.#log.delete(position)
    }
  }

  #promise(ballot: Ballot): void {
    this.#promised = ballot
    this.#outPromised = ballot
  }

  #noteRound(ballot: Ballot): void {
    if (ballot.round > this.#roundSeen) this.#roundSeen = ballot.round
  }

  // ---------------------------------------------------------------- leader

  #queueSubmission(leadership: Leadership, submission: Submission): void {
    if (leadership.queuedKeys.has(submission.from, submission.seq) || this.#ledger.applied(submission.from, submission.seq)) return
    if (leadership.queue.length >= this.#pendingMax) return
    leadership.queuedKeys.add(submission.from, submission.seq)
    leadership.queue.push(submission)
  }

  #receiveForward(from: string, message: Extract<Message, { type: 'forward' }>): void {
    const leadership = this.#leadership
    const government = this.#government
    if (government === null || !Array.isArray(message.submissions)) return
    if (leadership === null) {
      // Not the leader (any more): pass it on rather than lose it.
      return
    }
    if (!isMember(government, from)) return
    for (const submission of message.submissions) {
      if (submission.from !== from || !Number.isSafeInteger(submission.seq) || submission.seq < 1) continue
      this.#queueSubmission(leadership, submission)
    }
  }

  #receiveNaturalize(from: string, message: Extract<Message, { type: 'naturalize' }>): void {
    const leadership = this.#leadership
    const government = this.#government
    if (leadership === null || government === null || message.id !== from) return
    if (isMember(government, from) && !government.naturalized.includes(from)) leadership.naturalize.add(from)
  }

  /** Proposes what can be proposed now: a government change, or batches of submissions. */
  #propose(leadership: Leadership): void {
    const government = this.#government
    assert(government !== null, 'leader without government')
    const drained = this.#commit === leadership.next - 1
    if (this.#governmentInFlight(leadership)) return
    if (this.#wantsGovernment(leadership, government)) {
      if (drained && this.#commit >= leadership.recoveredTo) this.#proposeGovernment(leadership, government)
      return
    }
    if (this.#commit < leadership.recoveredTo) return
    let inflight = leadership.next - 1 - this.#commit
    while (leadership.queue.length > 0 && inflight < this.#inflightMax) {
      const count = Math.min(leadership.queue.length, this.#batchEntriesMax, this.#inflightMax - inflight)
      // A submitter exiled since it submitted has lost its record; its values are dropped.
      const batch = leadership.queue.splice(0, count).filter((submission) => {
        const member = isMember(government, submission.from)
        if (!member) leadership.queuedKeys.delete(submission.from, submission.seq)
        return member
      })
      if (batch.length === 0) continue
      const from = leadership.next
      for (const submission of batch) this.#proposeAt(leadership, leadership.next, { type: 'value', submission }, false, true)
      this.#sendRound(leadership, from, leadership.next - 1)
      inflight += count
    }
  }

  #wantsGovernment(leadership: Leadership, government: Government): boolean {
    if (leadership.electionGovernment) return true
    for (const id of leadership.exile) if (isMember(government, id)) return true
    for (const id of leadership.immigrate.keys()) if (!isMember(government, id) && !government.exiled.includes(id)) return true
    for (const id of leadership.naturalize) if (isMember(government, id) && !government.naturalized.includes(id)) return true
    return false
  }

  #governmentInFlight(leadership: Leadership): boolean {
    for (const round of leadership.rounds) if (round.government && !round.chosen) return true
    return false
  }

  #proposeGovernment(leadership: Leadership, current: Government): void {
    const live = new Set<string>([this.id])
    for (const [id, progress] of leadership.progress) {
      if (this.#now - progress.heardTick <= this.#timeoutTicks) live.add(id)
    }
    // This leader holds the state whatever the government it recovered says.
    if (this.#naturalized) leadership.naturalize.add(this.id)
    const government = nextGovernment(current, {
      leader: this.id,
      parliamentSize: this.#parliamentSize,
      live,
      immigrate: leadership.immigrate,
      naturalize: leadership.naturalize,
      exile: leadership.exile,
      submitters: this.#ledger.toTable(),
    })
    assert(government.majority[0] === this.id, 'a leader must lead the government it proposes')
    leadership.electionGovernment = false
    leadership.immigrate.clear()
    leadership.naturalize.clear()
    leadership.exile.clear()
    const position = leadership.next
    this.#proposeAt(leadership, position, { type: 'government', government }, true)
  }

  /**
   * Accepts `entry` at `position` under the leader's ballot and opens a round
   * for it, unless `batched` (the caller opens one round for a batch).
   */
  #proposeAt(leadership: Leadership, position: number, entry: LogEntry, government: boolean, batched = false): void {
    assert(position === leadership.next || position <= leadership.recoveredTo, 'proposals are contiguous')
    this.#store(position, leadership.ballot, entry, false)
    if (position >= leadership.next) leadership.next = position + 1
    if (entry.type !== 'government') {
      if (!batched) this.#sendRound(leadership, position, position, government)
      return
    }
    leadership.proposed.set(position, entry.government)
    this.#updateRecipients(leadership)
    this.#sendRound(leadership, position, position, government)
    // Positions after a government are decided by its parliament.
    leadership.parliament = parliamentOf(entry.government)
  }

  #updateRecipients(leadership: Leadership): void {
    const government = this.#government
    assert(government !== null, 'no government')
    const ids = new Set(membersOf(government))
    for (const proposed of leadership.proposed.values()) for (const id of membersOf(proposed)) ids.add(id)
    ids.delete(this.id)
    leadership.recipients = ids
  }

  #sendRound(leadership: Leadership, from: number, to: number, government = false): void {
    const round: Round = {
      from,
      to,
      parliament: leadership.parliament,
      acks: new Set([this.id]),
      sentTick: this.#now,
      chosen: false,
      government,
    }
    leadership.rounds.push(round)
    const entries = this.#acceptedRange(from, to)
    for (const id of leadership.recipients) this.#send(id, this.#acceptMessage(leadership, id, entries))
    leadership.commitAnnounced = this.#commit
    leadership.announceWanted = false
    this.#maybeChoose(leadership, round)
  }

  /**
   * Members learn the commit point from the next accept; when no round went
   * out since it advanced, announce it now rather than at the next ping, so a
   * follower's submission resolves one round trip after it is chosen. Only
   * this leader's own submissions chosen: nobody else waits, the next round or
   * ping carries it.
   */
  #announceCommit(leadership: Leadership): void {
    if (this.#commit <= leadership.commitAnnounced || !leadership.announceWanted) return
    for (const id of leadership.recipients) this.#send(id, this.#acceptMessage(leadership, id, []))
    leadership.commitAnnounced = this.#commit
    leadership.announceWanted = false
  }

  #acceptMessage(leadership: Leadership, to: string, entries: readonly Accepted[]): Message {
    return {
      type: 'accept',
      ballot: leadership.ballot,
      entries,
      chosen: this.#chosenFor(leadership, to),
      commit: this.#commit,
      trim: this.#trim,
    }
  }

  /** Chosen entries a lagging member is missing, at most `chosenMax` a message. */
  #chosenFor(leadership: Leadership, to: string): Accepted[] {
    const progress = leadership.progress.get(to)
    if (progress === undefined || !progress.catchingUp || progress.commit >= this.#commit) return []
    const from = Math.max(progress.commit, progress.chosenSentTo) + 1
    const to_ = Math.min(this.#commit, from + this.#chosenMax - 1)
    if (from > to_) return []
    progress.chosenSentTo = to_
    return this.#acceptedRange(from, to_)
  }

  /** A ping; a member whose commit has not moved since the last one is sent what it misses. */
  #sendHeartbeat(leadership: Leadership, id: string): void {
    const progress = this.#progressOf(leadership, id)
    if (progress.pingCommit !== null && progress.pingCommit === progress.commit && progress.commit < this.#commit) {
      progress.catchingUp = true
      // Send onwards from where the last batch ended; start over once all was sent (some was lost).
      if (progress.chosenSentTo >= this.#commit || progress.chosenSentTo < progress.commit) progress.chosenSentTo = progress.commit
    }
    progress.pingCommit = progress.commit
    this.#send(id, this.#acceptMessage(leadership, id, []))
  }

  #retransmit(leadership: Leadership): void {
    for (const round of leadership.rounds) {
      if (round.chosen || this.#now - round.sentTick < this.#pingTicks * 2) continue
      round.sentTick = this.#now
      const entries = this.#acceptedRange(round.from, round.to)
      for (const id of round.parliament) {
        if (!round.acks.has(id)) this.#send(id, { type: 'accept', ballot: leadership.ballot, entries, chosen: [], commit: this.#commit, trim: this.#trim })
      }
    }
  }

  #progressOf(leadership: Leadership, id: string): Progress {
    let progress = leadership.progress.get(id)
    if (progress === undefined) {
      // A newcomer admitted by the current government starts its log there.
      const newcomer = this.#government !== null && this.#government.arrived[id] === this.#government.promise
      // Until it answers, guess it holds what this leader trimmed, so a newcomer
      // admitted under an earlier leader still gets its arrival sent.
      const commit = newcomer ? this.#governmentPosition - 1 : this.#trim
      progress = {
        commit,
        answered: false,
        heardTick: this.#now,
        pingCommit: newcomer ? commit : null,
        catchingUp: newcomer,
        chosenSentTo: commit,
      }
      leadership.progress.set(id, progress)
    }
    return progress
  }

  #receiveAccepted(from: string, message: Extract<Message, { type: 'accepted' }>): void {
    const leadership = this.#leadership
    if (leadership === null || !isBallot(message.ballot) || this.#compare(message.ballot, leadership.ballot) !== 0) return
    const progress = this.#progressOf(leadership, from)
    progress.heardTick = this.#now
    if (Number.isSafeInteger(message.commit) && (message.commit > progress.commit || !progress.answered)) {
      progress.commit = message.commit
      progress.answered = true
    }
    if (progress.catchingUp && progress.commit >= this.#commit) progress.catchingUp = false
    if (Array.isArray(message.ranges)) {
      for (const range of message.ranges) this.#acknowledge(leadership, from, range)
    }
    if (progress.catchingUp) this.#send(from, this.#acceptMessage(leadership, from, []))
  }

  #acknowledge(leadership: Leadership, from: string, range: PositionRange): void {
    const rounds = leadership.rounds
    // Rounds are in position order: find the first that ends at or after the range.
    let low = 0
    let high = rounds.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if ((rounds[middle] as Round).to < range.from) low = middle + 1
      else high = middle
    }
    for (let index = low; index < rounds.length; index++) {
      const round = rounds[index] as Round
      if (round.from > range.to) break
      if (round.chosen || range.from > round.from || range.to < round.to || !round.parliament.includes(from)) continue
      round.acks.add(from)
      this.#maybeChoose(leadership, round)
    }
  }

  #maybeChoose(leadership: Leadership, round: Round): void {
    const quorum = this.#mutant === 'commit-without-quorum' ? round.acks.size >= 1 : hasQuorum(round.parliament, round.acks)
    if (!quorum) return
    round.chosen = true
    for (let position = round.from; position <= round.to; position++) {
      const slot = this.#log.get(position)
      if (slot !== undefined) slot.chosen = true
    }
    this.#advanceCommit(this.#commit, leadership.ballot)
    while (leadership.rounds.length > 0 && (leadership.rounds[0] as Round).chosen && (leadership.rounds[0] as Round).to <= this.#commit) {
      leadership.rounds.shift()
    }
    this.#maybeTrim(leadership)
  }

  #maybeTrim(leadership: Leadership): void {
    const government = this.#government
    if (government === null) return
    let trim = this.#commit
    for (const id of membersOf(government)) {
      if (id === this.id) continue
      trim = Math.min(trim, this.#progressOf(leadership, id).commit)
    }
    this.#trimTo(trim)
  }

  // ---------------------------------------------------------------- acceptor

  #receiveAccept(from: string, message: Extract<Message, { type: 'accept' }>): void {
    if (!isBallot(message.ballot) || !Array.isArray(message.entries) || !Array.isArray(message.chosen)) return
    if (this.#government === null && !this.#maybeArrive(message)) return
    this.#noteRound(message.ballot)
    const order = this.#compare(message.ballot, this.#promised)
    if (order < 0) {
      this.#send(from, { type: 'reject', ballot: message.ballot, promised: this.#promised, commit: this.#commit, reason: 'ballot' })
      return
    }
    if (this.#leadership !== null && this.#compare(message.ballot, this.#leadership.ballot) === 0) return
    if (this.#role === 'exiled') {
      if (order > 0) this.#promise(message.ballot)
      for (const item of message.entries) {
        if (Number.isSafeInteger(item.position) && item.position > this.#commit) this.#store(item.position, message.ballot, item.entry, false)
      }
      const ranges = message.entries.length === 0 ? [] : [{ from: message.entries[0]?.position ?? 0, to: message.entries.at(-1)?.position ?? 0 }]
      this.#send(from, { type: 'accepted', ballot: message.ballot, ranges, commit: this.#commit })
      return
    }
    if (order > 0 || this.#role === 'candidate' || this.#role === 'leader') {
      this.#stepDown()
      if (order > 0) {
        this.#promise(message.ballot)
        if (this.#mutant === 'drop-accepted-on-step-down') this.#dropUnchosen()
      }
    }
    const newLeader = this.#leaderId !== from
    this.#leaderId = from
    this.#leaderTick = this.#now
    this.#resetElectionTimer()
    for (const item of message.chosen) this.#storeChosen(item)
    const ranges: PositionRange[] = []
    let rangeFrom = -1
    let rangeTo = -2
    for (const item of message.entries) {
      if (!Number.isSafeInteger(item.position) || item.position <= this.#trim) continue
      // At or below the commit point the entry is chosen already; acknowledging it is harmless.
      if (item.position > this.#commit) this.#store(item.position, message.ballot, item.entry, false)
      if (item.position !== rangeTo + 1) {
        if (rangeFrom >= 0) ranges.push({ from: rangeFrom, to: rangeTo })
        rangeFrom = item.position
      }
      rangeTo = item.position
    }
    if (rangeFrom >= 0) ranges.push({ from: rangeFrom, to: rangeTo })
    if (Number.isSafeInteger(message.commit)) this.#advanceCommit(message.commit, message.ballot)
    if (Number.isSafeInteger(message.trim)) this.#trimTo(Math.min(message.trim, this.#commit))
    this.#send(from, { type: 'accepted', ballot: message.ballot, ranges, commit: this.#commit })
    if (newLeader) this.#forwardPending()
  }

  /** A newcomer adopts its log when the leader sends its arrival government. */
  #maybeArrive(message: Extract<Message, { type: 'accept' }>): boolean {
    const arrival = message.chosen.find((item) => {
      if (item?.entry?.type !== 'government') return false
      const government = item.entry.government
      return government.arrived?.[this.id] === government.promise && isMember(government, this.id)
    })
    if (arrival === undefined || arrival.entry.type !== 'government' || !Number.isSafeInteger(arrival.position)) return false
    this.#arrival = arrival.entry.government.promise
    this.#commit = arrival.position - 1
    this.#trim = arrival.position - 1
    this.#role = 'follower'
    return true
  }

  #receiveReject(from: string, message: Extract<Message, { type: 'reject' }>): void {
    if (!isBallot(message.promised)) return
    this.#noteRound(message.promised)
    // Only a member that applied the government exiling this one says so: it is chosen.
    if (message.reason === 'exiled') return this.#exiled()
    const mine = this.#leadership?.ballot ?? this.#candidacy?.ballot ?? null
    if (mine === null || !isBallot(message.ballot) || this.#compare(message.ballot, mine) !== 0) return
    switch (message.reason) {
      case 'ballot':
        if (this.#compare(message.promised, mine) > 0) this.#stepDown()
        return
      default:
        return
    }
  }

  #tellExiled(to: string): void {
    if (this.#toldExiled.has(to)) return
    this.#toldExiled.add(to)
    this.#send(to, { type: 'reject', ballot: this.#promised, promised: this.#promised, commit: this.#commit, reason: 'exiled' })
  }

  #exiled(): void {
    const leadership = this.#leadership
    if (leadership !== null) {
      // Last act of a leader that exiled itself: tell the others it is chosen.
      for (const id of leadership.recipients) this.#send(id, this.#acceptMessage(leadership, id, []))
    }
    this.#leadership = null
    this.#candidacy = null
    this.#role = 'exiled'
  }

  // ---------------------------------------------------------------- log

  #store(position: number, ballot: Ballot, entry: LogEntry, chosen: boolean): void {
    const slot = this.#log.get(position)
    if (slot !== undefined && slot.chosen) return
    const stored: Slot = { position, ballot, entry, chosen }
    this.#log.set(position, stored)
    if (position > this.#logEnd) this.#logEnd = position
    this.#outAccepted.push(stored)
  }

  #storeChosen(item: Accepted): void {
    if (!Number.isSafeInteger(item.position) || item.position <= this.#commit || !isBallot(item.ballot)) return
    this.#store(item.position, item.ballot, item.entry, true)
  }

  #acceptedFrom(from: number): Accepted[] {
    return this.#acceptedRange(from, this.#logEnd)
  }

  #acceptedRange(from: number, to: number): Accepted[] {
    const accepted: Accepted[] = []
    for (let position = from; position <= to; position++) {
      const slot = this.#log.get(position)
      if (slot !== undefined) accepted.push({ position, ballot: slot.ballot, entry: slot.entry })
    }
    return accepted
  }

  /**
   * Outputs, strictly in position order, every entry known chosen: marked
   * chosen, or accepted under `ballot` at or below that leader's `commit`.
   */
  #advanceCommit(commit: number, ballot: Ballot): void {
    const skipGaps = this.#mutant === 'apply-out-of-order'
    for (let position = this.#commit + 1; position <= this.#logEnd; position++) {
      const slot = this.#log.get(position)
      const chosen =
        slot !== undefined && (slot.chosen || (position <= commit && this.#compare(slot.ballot, ballot) === 0))
      if (!chosen) {
        if (skipGaps && position <= commit) continue
        break
      }
      slot.chosen = true
      this.#apply(position, slot.entry)
      if (this.#role === 'exiled') return
    }
  }

  #apply(position: number, entry: LogEntry): void {
    this.#commit = position
    const leadership = this.#leadership
    if (leadership !== null && (entry.type !== 'value' || entry.submission.from !== this.id)) leadership.announceWanted = true
    const government = this.#government
    let promise: string
    if (entry.type === 'government') {
      promise = entry.government.promise
      this.#applyGovernment(position, entry.government)
      this.#outCommitted.push({ position, promise, entry, apply: true })
      return
    }
    assert(government !== null, 'entry before any government')
    promise = `${government.number}/${position - this.#governmentPosition}`
    let apply = true
    if (entry.type === 'value') {
      const { from, seq } = entry.submission
      apply = this.#ledger.record(from, seq) || this.#mutant === 'no-dedupe'
      if (from === this.id) this.#pending.delete(seq)
      this.#leadership?.queuedKeys.delete(from, seq)
    }
    this.#outCommitted.push({ position, promise, entry, apply })
  }

  #applyGovernment(position: number, government: Government): void {
    const previous = this.#government
    if (previous !== null) {
      for (const id of government.exiled) {
        const props = previous.properties[id]
        if (props !== undefined) this.#exiledProperties.set(id, props)
      }
      for (const id of this.#exiledProperties.keys()) if (!government.exiled.includes(id)) this.#exiledProperties.delete(id)
    }
    this.#government = government
    this.#governmentPosition = position
    this.#ledger = SubmitterLedger.fromTable(government.submitters)
    if (!isMember(government, this.id)) {
      this.#exiled()
      return
    }
    if (government.naturalized.includes(this.id)) this.#naturalized = true
    const leadership = this.#leadership
    if (leadership !== null) {
      for (const key of [...leadership.proposed.keys()]) if (key <= position) leadership.proposed.delete(key)
      this.#updateRecipients(leadership)
      for (const id of membersOf(government)) this.#progressOf(leadership, id)
      for (const id of [...leadership.progress.keys()]) if (!isMember(government, id)) leadership.progress.delete(id)
      if (!isParliament(government, this.id)) this.#stepDown()
    }
    this.#forwardPending()
  }

  #trimTo(trim: number): void {
    if (trim <= this.#trim) return
    for (let position = this.#trim + 1; position <= trim; position++) this.#log.delete(position)
    this.#trim = trim
  }

  // ---------------------------------------------------------------- submitter

  #currentLeaderId(): string | null {
    if (this.#leaderId !== null && this.#now - this.#leaderTick < this.#timeoutTicks) return this.#leaderId
    return this.leader
  }

  #forwardPending(): void {
    this.#forwardTick = this.#now
    if (this.#pending.size === 0) return
    const leadership = this.#leadership
    if (leadership !== null) {
      for (const [seq, value] of this.#pending) this.#queueSubmission(leadership, { from: this.id, seq, value })
      return
    }
    const leader = this.#currentLeaderId()
    if (leader === null || leader === this.id) return
    let submissions: Submission[] = []
    for (const [seq, value] of this.#pending) {
      submissions.push({ from: this.id, seq, value })
      if (submissions.length === this.#batchEntriesMax) {
        this.#send(leader, { type: 'forward', submissions })
        submissions = []
      }
    }
    if (submissions.length > 0) this.#send(leader, { type: 'forward', submissions })
  }

  #sendNaturalize(): void {
    if (this.#leadership !== null) {
      this.#leadership.naturalize.add(this.id)
      return
    }
    const leader = this.#currentLeaderId()
    if (leader !== null && leader !== this.id) this.#send(leader, { type: 'naturalize', id: this.id })
  }

  #send(to: string, message: Message): void {
    this.#outMessages.push({ from: this.id, to, message })
  }
}

/** Our own invariants: a failure is a bug in this file, never bad input. */
function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`legislator invariant violated: ${message}`)
}
