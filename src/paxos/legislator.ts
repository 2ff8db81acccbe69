import { compareBallot } from './ballot.js'
import {
  MEMBERS_MAX,
  bootstrapGovernment,
  isMember,
  isParliament,
  membersOf,
  nextGovernment,
  parliamentOf,
} from './government.js'
import { Log, NO_CHANGES, assert } from './log.js'
import { rulesFor } from './mutants.js'
import type { Mutant, Rules } from './mutants.js'
import { acknowledge, hear, heardWithin, inflight, newProgress, startCatchUp } from './progress.js'
import type { Progress, Round } from './progress.js'
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
  LegislatorRestore,
  LogEntry,
  Message,
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
   * Durable mode: every this many ticks a leader tells each exile its
   * government remembers, with its properties, that it was exiled. One
   * exiled while it was down may come back under a government whose members
   * are all exiled or gone, and no other member would ever hear from it.
   * Default 0: never (in memory mode an exile never comes back as itself).
   */
  readonly exileNoticeTicks?: number
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
  /**
   * What one log entry takes in a message, at most, in whatever unit
   * `messageBytesMax` counts (a colleague: bytes on the wire). With both
   * set, a leader's round carries entries of at most `messageBytesMax`
   * together, its rounds not yet chosen at most twice that (a promise
   * carries them all), and a catch-up or a probe's answer at most
   * `messageBytesMax` of chosen entries; each always at least one entry.
   * Without them only the entry counts bound a message, and a message too
   * large for the transport would be lost at every try.
   */
  readonly entryBytes?: (entry: LogEntry) => number
  readonly messageBytesMax?: number
  /** Test switch: run a deliberately broken core. */
  readonly mutant?: Mutant
  /** Durable mode: resume what this member remembered before a restart. */
  readonly restore?: LegislatorRestore
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

/** A member standing for election: phase 1 under `ballot`. */
interface Candidate {
  readonly role: 'candidate'
  readonly ballot: Ballot
  /** Per promiser: what it accepted at positions >= `from` (it forgot those before, all chosen). */
  readonly promises: Map<string, { accepted: readonly Accepted[]; commit: number; from: number }>
  readonly asked: Set<string>
  /** Those that refused it as no member while behind its government: its prepares to them carry that government. */
  readonly shownTo: Set<string>
  sentTick: number
}

/** A member leading under `ballot`: phase 2, rounds and what it knows of each member. */
interface Leader {
  readonly role: 'leader'
  readonly ballot: Ballot
  next: number
  readonly rounds: Round[]
  readonly progress: Map<string, Progress>
  readonly queue: Submission[]
  /** Submissions queued or proposed and not yet chosen. */
  readonly queuedKeys: SubmissionSet
  /** Positions up to which re-proposals from phase 1 run; the election government follows. */
  recoveredTo: number
  /**
   * This leader's commit point when it was elected: it proposes only after
   * it, so a member behind it can only catch up, never advance on rounds.
   */
  readonly electedCommit: number
  electionGovernment: boolean
  readonly immigrate: Map<string, Properties>
  readonly naturalize: Set<string>
  readonly exile: Set<string>
  /** The parliament deciding the next position proposed. */
  parliament: readonly string[]
  /** Governments proposed (or re-proposed) and not yet applied, by position. */
  readonly proposed: Map<number, Government>
  recipients: Set<string>
  /** What the entries of the rounds not yet chosen take (`entryBytes`); 0 without it. */
  openBytes: number
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

/**
 * The role, one tagged state: what a role needs lives in its state and
 * nowhere else, so that no two fields can disagree about who this member is.
 * A newcomer has no government yet; an exiled member only answers as an
 * acceptor (for the parliaments that still count its vote) and asks, until
 * told, whether the government that exiled it is known.
 */
type State = { readonly role: 'newcomer' } | { readonly role: 'follower' } | Candidate | Leader | { readonly role: 'exiled' }

const NEWCOMER: State = { role: 'newcomer' }
const FOLLOWER: State = { role: 'follower' }
const EXILED: State = { role: 'exiled' }

type MessageOf<T extends Message['type']> = Extract<Message, { type: T }>

const DEFAULTS = {
  parliamentSize: 5,
  pingTicks: 1,
  timeoutTicks: 5,
  batchEntriesMax: 256,
  inflightMax: 4096,
  pendingMax: 8192,
  chosenMax: 1024,
}

/** What `ready()` returns when there is nothing to persist, send or apply: one frozen object, so that an idle tick allocates nothing. */
export const IDLE: Ready = Object.freeze({ persist: NO_CHANGES, messages: Object.freeze([]), committed: Object.freeze([]) })

/** Pings without an answer before a candidate asks again, or a leader sends a round again. */
const RESEND_PINGS = 2
/** A member heard from nothing since the leader began sending it what it lacks is sent it all again only this many pings later. */
export const CATCH_UP_SILENT_PINGS = 8

/**
 * The Multi-Paxos state machine of one colleague. Synchronous and
 * deterministic: it reads no clock, does no I/O and draws randomness only from
 * the source it is given. Drive it with `tick`, `receive`, `enqueue` and the
 * membership calls; collect what it wants done with `ready`.
 *
 * Every message passes one ballot preamble (`#preamble`) that refuses a
 * ballot below this member's promise and promises a higher one, stepping
 * down; then the step function of the role this member holds afterwards
 * handles it (`#stepFollower`, `#stepCandidate`, `#stepLeader`,
 * `#stepExiled`).
 */
/** Ids `exiledAsLost` remembers: more than any island holds members. */
const LOST_REMEMBERED = 1024

export class Legislator {
  readonly id: string
  readonly #random: () => number
  readonly #rules: Rules
  readonly #parliamentSize: number
  readonly #pingTicks: number
  readonly #timeoutTicks: number
  readonly #exileTicks: number
  readonly #exileNoticeTicks: number
  readonly #electionJitterTicks: number
  readonly #batchEntriesMax: number
  readonly #inflightMax: number
  readonly #pendingMax: number
  readonly #chosenMax: number
  /** `options.entryBytes`, or null when messages are bounded by entry counts alone. */
  readonly #entryBytes: ((entry: LogEntry) => number) | null
  readonly #messageBytesMax: number

  #state: State = NEWCOMER
  #now = 0
  #roundSeen = 0
  readonly #log: Log
  #government: Government | null = null
  /**
   * The latest government a candidate's prepare showed chosen past this
   * member's commit point (`#seatedSince`): until this member applies one as
   * recent, it reaches the members it seats, the candidate among them, there.
   */
  #shown: Government | null = null
  #governmentPosition = -1
  #ledger = new SubmitterLedger()
  #naturalized = false
  #arrival: string | null = null

  #leaderId: string | null = null
  #leaderTick = 0
  #electionTick = 0

  #seq = 0
  /** Restarted from storage: seqs up to this one belonged to earlier processes of this member (see Submission.floor). */
  #floor = 0
  readonly #pending = new Map<number, unknown>()
  #forwardTick = 0
  #probeTick = 0
  /** The highest commit point a leader announced to this member. */
  #leaderCommit = -1
  /** This member's commit point at `#commitTick`, when it last moved (see `#maybeCatchUpFromPeers`). */
  #tickCommit = -1
  #commitTick = 0
  #exileNoticeTick = 0
  /** Senders already told this tick that they were exiled. */
  readonly #toldExiled = new Set<string>()
  #membershipTick = 0
  /** This member asked to leave: it wants a government without it. */
  #leaving = false
  /** Ids this legislator, as leader, exiled against their will (see `exiledAsLost`); the oldest forgotten past LOST_REMEMBERED. */
  readonly #lost = new Set<string>()
  /** A member that applied a government exiling this one said so (see `exileTold`). */
  #exileTold = false

  #outMessages: Envelope[] = []
  #outCommitted: Committed[] = []
  /** Submissions enqueued since the last `ready`, forwarded to the leader in one message. */
  #outForward: Submission[] = []

  constructor(options: LegislatorOptions) {
    this.id = options.id
    this.#random = options.random
    this.#rules = rulesFor(options.mutant)
    this.#log = new Log(this.#rules)
    this.#parliamentSize = options.parliamentSize ?? DEFAULTS.parliamentSize
    this.#pingTicks = options.pingTicks ?? DEFAULTS.pingTicks
    this.#timeoutTicks = options.timeoutTicks ?? DEFAULTS.timeoutTicks
    this.#exileTicks = options.exileTicks ?? this.#timeoutTicks * 2
    this.#exileNoticeTicks = options.exileNoticeTicks ?? 0
    this.#electionJitterTicks = options.electionJitterTicks ?? this.#timeoutTicks * 2
    this.#batchEntriesMax = options.batchEntriesMax ?? DEFAULTS.batchEntriesMax
    this.#inflightMax = options.inflightMax ?? DEFAULTS.inflightMax
    this.#pendingMax = options.pendingMax ?? DEFAULTS.pendingMax
    this.#chosenMax = options.chosenMax ?? DEFAULTS.chosenMax
    this.#entryBytes = options.entryBytes ?? null
    this.#messageBytesMax = options.messageBytesMax ?? Number.POSITIVE_INFINITY
    assert(this.id.length > 0, 'legislator id must not be empty')
    assert(this.#parliamentSize >= 1 && this.#parliamentSize % 2 === 1, 'parliamentSize must be odd')
    assert(this.#pingTicks >= 1 && this.#timeoutTicks > this.#pingTicks, 'timeoutTicks must exceed pingTicks')
    assert(this.#electionJitterTicks >= 1, 'electionJitterTicks must be at least 1')
    this.#resetElectionTimer()
    if (options.restore !== undefined) this.#restore(options.restore)
  }

  // ---------------------------------------------------------------- observers

  get government(): Government | null {
    return this.#government
  }

  get commit(): number {
    return this.#log.commit
  }

  get leader(): string | null {
    return this.#government?.majority[0] ?? null
  }

  get isLeader(): boolean {
    return this.#state.role === 'leader'
  }

  get role(): Role {
    return this.#state.role
  }

  get naturalized(): boolean {
    return this.#naturalized
  }

  /**
   * A member that applied a government exiling this one told it so. In
   * durable mode that member's record of the government is durable (a flush
   * that commits a government syncs its commit point before its messages
   * leave), so the exile's own vote and log are no longer the only record
   * of the change: until then, a durable exile keeps answering as an
   * acceptor (see `#stepExiled`).
   */
  /**
   * Whether this legislator, as leader, exiled `id` against its will (silent,
   * or behind the trim, for an exile timeout) rather than on its own leave:
   * a leaving colleague left alone by such an exile waits for a member to
   * hand on to instead of ending the island.
   */
  exiledAsLost(id: string): boolean {
    return this.#lost.has(id)
  }

  get exileTold(): boolean {
    return this.#exileTold
  }

  get pending(): number {
    return this.#pending.size
  }

  get arrival(): string | null {
    return this.#arrival
  }

  /** The highest submitter seq handed out by `enqueue`. */
  get submitted(): number {
    return this.#seq
  }

  /** Properties of `id` as named by the latest government that knows it. */
  properties(id: string): Properties | undefined {
    // Remembered exiles keep their properties in the government, so a refusal can still reach them.
    const fromGovernment = this.#government?.properties[id]
    if (fromGovernment !== undefined) return fromGovernment
    // A candidate may need to reach members of a government it has only seen accepted.
    for (const slot of this.#log.uncommitted()) {
      if (slot.entry.type === 'government') {
        const props = slot.entry.government.properties[id]
        if (props !== undefined) return props
      }
    }
    return this.#shown?.properties[id]
  }

  inspect(): LegislatorInspection {
    const state = this.#state
    const leader = state.role === 'leader' ? state : null
    const open = leader === null ? { positions: 0, governments: 0 } : inflight(leader.rounds)
    return {
      id: this.id,
      role: state.role,
      ballot: state.role === 'leader' || state.role === 'candidate' ? state.ballot : null,
      promised: this.#log.promised,
      commit: this.#log.commit,
      trim: this.#log.trim,
      logSize: this.#log.size,
      governmentPosition: this.#governmentPosition,
      governmentsInFlight: open.governments,
      inflightPositions: open.positions,
      queued: leader?.queue.length ?? 0,
      pending: this.#pending.size,
    }
  }

  /**
   * Resumes from durable storage: the log as of a snapshot, the entries
   * accepted after it, and the promise. Nothing of it is handed out to persist
   * again; the entries up to `commit` are output by the first `ready()`, in
   * order, for the application to apply after restoring its snapshot.
   */
  #restore(restore: LegislatorRestore): void {
    assert(restore.position >= restore.governmentPosition, 'a snapshot follows its government')
    this.#log.restore(restore.position, restore.promised, restore.accepted, restore.commit, restore.retained ?? [])
    if (restore.promised !== null) this.#roundSeen = restore.promised.round
    this.#government = restore.government
    this.#governmentPosition = restore.governmentPosition
    this.#ledger = SubmitterLedger.fromTable(restore.submitters)
    this.#arrival = restore.arrival
    this.#naturalized = true
    this.#seq = restore.seq
    this.#floor = restore.seq
    this.#state = isMember(restore.government, this.id) ? FOLLOWER : EXILED
    if (this.#state.role === 'follower') this.#advanceCommit(restore.commit, this.#log.promised)
  }


  // ---------------------------------------------------------------- commands

  /** Found a new island: this member is the whole government and its leader. */
  bootstrap(islandId: string, properties: Properties): void {
    assert(this.#state.role === 'newcomer' && this.#government === null, 'bootstrap on a member')
    const government = bootstrapGovernment(islandId, this.id, properties)
    const ballot: Ballot = { round: 1, id: this.id }
    this.#log.promise(ballot)
    this.#roundSeen = 1
    this.#log.store(0, ballot, { type: 'government', government }, true)
    this.#state = FOLLOWER
    this.#advanceCommit(0, ballot)
    this.#naturalized = true
    // The bootstrap government already names this member leader.
    this.#becomeLeader(ballot, -1, new Set(), false)
  }

  enqueue(value: unknown): EnqueueResult {
    if (this.#state.role === 'exiled') return { ok: false, code: 'EXILED' }
    if (this.#government === null) return { ok: false, code: 'NOT_A_MEMBER' }
    if (this.#pending.size >= this.#pendingMax) return { ok: false, code: 'QUEUE_FULL' }
    const seq = ++this.#seq
    this.#pending.set(seq, value)
    const submission = this.#submission(seq, value)
    if (this.#state.role === 'leader') {
      this.#queueSubmission(this.#state, submission)
    } else {
      this.#outForward.push(submission)
    }
    return { ok: true, from: this.id, seq }
  }

  /** Ask the leader to admit a newcomer. Idempotent. */
  immigrate(id: string, properties: Properties): LegislatorRefusal | null {
    const government = this.#government
    if (this.#state.role === 'exiled') return 'EXILED'
    if (government === null) return 'NOT_A_MEMBER'
    if (government.exiled.includes(id)) return 'EXILED'
    if (isMember(government, id)) return null
    if (membersOf(government).length >= MEMBERS_MAX) return 'ISLAND_FULL'
    if (this.#state.role === 'leader') {
      this.#state.immigrate.set(id, properties)
    } else {
      const leader = this.#currentLeaderId()
      if (leader !== null) this.#send(leader, { type: 'immigrate', id, properties })
    }
    return null
  }

  /**
   * Ask to be exiled: a leader proposes the government without it itself,
   * naming a successor first; anyone else asks the leader, every timeout,
   * until a government without it is chosen. Idempotent.
   */
  leave(): LegislatorRefusal | null {
    if (this.#state.role === 'exiled') return 'EXILED'
    if (this.#government === null) return 'NOT_A_MEMBER'
    this.#leaving = true
    if (this.#state.role === 'leader') this.#state.exile.add(this.id)
    else this.#sendLeave()
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
    const state = this.#state
    if (state.role === 'leader' || state.role === 'candidate') {
      // A higher promise steps a leader or candidate down before anything else.
      assert(compareBallot(state.ballot, this.#log.promised) === 0, `a ${state.role} holds the ballot it promised`)
    }
    switch (this.#state.role) {
      case 'leader':
        this.#onLeaderTick(this.#state)
        break
      case 'candidate':
        this.#onCandidateTick(this.#state)
        this.#onFollowerTick()
        break
      case 'follower':
        this.#onFollowerTick()
        break
      case 'exiled':
        this.#onExiledTick()
        break
      default:
        break
    }
    this.#onSubmitterTick()
  }

  receive(from: string, message: Message): void {
    if (typeof from !== 'string' || from === this.id || !isMessage(message)) return
    // A known exile gets the refusal, whatever it sent; a prepare is refused by the preamble.
    if (this.#state.role !== 'exiled' && this.#government?.exiled.includes(from) === true && message.type !== 'reject' && message.type !== 'prepare') {
      return this.#tellExiled(from)
    }
    if (!this.#preamble(from, message)) return
    const state = this.#state
    switch (state.role) {
      case 'leader':
        return this.#stepLeader(state, from, message)
      case 'candidate':
        return this.#stepCandidate(state, from, message)
      case 'exiled':
        return this.#stepExiled(from, message)
      default:
        return this.#stepFollower(from, message)
    }
  }

  /**
   * What to do now, taken once: the driver must act on it in field order (see
   * `Ready`): persist, then send, then apply. `IDLE` itself when there is
   * nothing to do.
   */
  ready(): Ready {
    if (this.#outForward.length > 0) {
      const leader = this.#currentLeaderId()
      if (this.#state.role === 'leader') {
        for (const submission of this.#outForward) this.#queueSubmission(this.#state, submission)
      } else if (leader !== null && leader !== this.id) {
        this.#sendForward(leader, this.#outForward)
      }
      this.#outForward = []
    }
    if (this.#state.role === 'leader') {
      this.#propose(this.#state)
      this.#announceCommit(this.#state)
    }
    const persist = this.#log.takeChanges()
    if (persist === NO_CHANGES && this.#outMessages.length === 0 && this.#outCommitted.length === 0) return IDLE
    const ready: Ready = {
      persist,
      messages: this.#outMessages,
      committed: this.#outCommitted,
    }
    this.#outMessages = []
    this.#outCommitted = []
    return ready
  }

  // ---------------------------------------------------------------- the ballot preamble

  /**
   * Reads a message against this member's promise, once, for every role:
   * notes the rounds it names, refuses a ballot below the promise (and a
   * prepare this member may not promise), and promises a higher ballot,
   * stepping down from any candidacy or leadership. Returns false when the
   * message ends here.
   */
  #preamble(from: string, message: Message): boolean {
    switch (message.type) {
      case 'prepare': {
        if (this.#government === null) return false
        this.#noteRound(message.ballot)
        const refusal = this.#refusePrepare(from, message)
        if (refusal !== null) {
          this.#reject(from, message.ballot, refusal)
          return false
        }
        const shown = message.government?.government
        if (shown !== undefined && shown.number > (this.#shown ?? this.#government).number && this.#seatedSince(from, message)) this.#shown = shown
        if (this.#rules.compare(message.ballot, this.#log.promised) > 0) this.#adopt(message.ballot)
        return true
      }
      case 'accept': {
        if (this.#government === null && !this.#maybeArrive(message)) return false
        this.#noteRound(message.ballot)
        const order = this.#rules.compare(message.ballot, this.#log.promised)
        if (order < 0) {
          this.#reject(from, message.ballot, 'ballot')
          return false
        }
        if (order > 0) this.#adopt(message.ballot)
        return true
      }
      case 'reject':
        this.#noteRound(message.promised)
        return true
      default:
        return true
    }
  }

  /** Why this member will not promise `message.ballot` to `from`, or null. */
  #refusePrepare(from: string, message: MessageOf<'prepare'>): RejectReason | null {
    const government = this.#government
    assert(government !== null, 'prepare without government')
    if (government.exiled.includes(from)) return 'exiled'
    if (!isMember(government, from) && !this.#acceptedGovernmentNames(from) && !this.#seatedSince(from, message)) return 'not-member'
    const order = this.#rules.compare(message.ballot, this.#log.promised)
    // A member that hears a working leader does not help depose it.
    const leaderAlive =
      this.#state.role === 'leader' ||
      (this.#leaderId !== null && this.#leaderId !== from && this.#now - this.#leaderTick < this.#timeoutTicks)
    if (order !== 0 && leaderAlive) return 'leader-alive'
    if (order < 0) return 'ballot'
    return null
  }

  /**
   * Whether a government this member accepted past its commit point names
   * `id`: a member that fell behind must still answer the candidates of the
   * governments it voted for, which may be the only ones able to win.
   */
  #acceptedGovernmentNames(id: string): boolean {
    for (const slot of this.#log.uncommitted()) {
      if (slot.entry.type === 'government' && isMember(slot.entry.government, id)) return true
    }
    return false
  }

  /**
   * Whether the prepare shows a government chosen past this member's commit
   * point that seats `id` in its parliament: the candidate sends it when this
   * member refused it as no member (`#receiveReject`).
   */
  #seatedSince(id: string, message: MessageOf<'prepare'>): boolean {
    const seated = message.government
    return (
      seated !== undefined &&
      seated.position > this.#log.commit &&
      seated.government.islandId === this.#government?.islandId &&
      isParliament(seated.government, id)
    )
  }

  /** Promises a ballot above the one held: whoever held a candidacy or leadership steps down. */
  #adopt(ballot: Ballot): void {
    this.#stepDown()
    this.#log.promise(ballot)
    if (this.#rules.forgetsOnPromise) this.#log.forgetUnchosen()
  }

  #noteRound(ballot: Ballot): void {
    if (ballot.round > this.#roundSeen) this.#roundSeen = ballot.round
  }

  #reject(to: string, ballot: Ballot, reason: RejectReason): void {
    this.#send(to, { type: 'reject', ballot, promised: this.#log.promised, commit: this.#log.commit, reason })
  }

  // ---------------------------------------------------------------- step per role

  /** A follower (or a newcomer, until its arrival): an acceptor that forwards to the leader. */
  #stepFollower(from: string, message: Message): void {
    switch (message.type) {
      case 'prepare':
        return this.#sendPromise(from, message)
      case 'accept':
        return this.#receiveAccept(from, message)
      case 'reject':
        return this.#receiveReject(from, message, null)
      case 'immigrate':
        this.immigrate(message.id, message.properties)
        return
      case 'forward':
        // Not the leader (any more): submissions are dropped. The submitter
        // forwards what is pending to whoever it hears lead within
        // `timeoutTicks`; passing them on could bounce between two members
        // that each think the other leads. A probe or its answer is taken.
        if (message.chosen !== undefined) this.#learnProbeAnswer(message.chosen)
        else if (message.commit !== undefined) this.#answerProbe(from, message.commit)
        return
      default:
        return
    }
  }

  #stepCandidate(candidate: Candidate, from: string, message: Message): void {
    switch (message.type) {
      case 'promise':
        return this.#receivePromise(candidate, from, message)
      case 'accept':
        // A leader at the ballot this candidate holds: follow it.
        this.#stepDown()
        return this.#receiveAccept(from, message)
      case 'reject':
        return this.#receiveReject(from, message, candidate.ballot)
      default:
        return this.#stepFollower(from, message)
    }
  }

  #stepLeader(leader: Leader, from: string, message: Message): void {
    switch (message.type) {
      case 'accept':
        if (this.#rules.compare(message.ballot, leader.ballot) === 0) return
        this.#stepDown()
        return this.#receiveAccept(from, message)
      case 'accepted':
        return this.#receiveAccepted(leader, from, message)
      case 'reject':
        return this.#receiveReject(from, message, leader.ballot)
      case 'forward':
        return this.#receiveForward(leader, from, message)
      case 'naturalize':
        return this.#receiveNaturalize(leader, from, message)
      case 'leave':
        if (this.#government !== null && isMember(this.#government, from)) leader.exile.add(from)
        return
      default:
        return this.#stepFollower(from, message)
    }
  }

  /**
   * An exiled member still answers as an acceptor: the parliament that exiled
   * it may need its vote to finish deciding that very government. It also
   * answers a probe with the chosen entries it holds: a member of the new
   * parliament that lost its record of the change (a power cut before its
   * commit point was durable) learns it again from an exile that lingers.
   */
  #stepExiled(from: string, message: Message): void {
    switch (message.type) {
      case 'prepare':
        return this.#sendPromise(from, message)
      case 'reject':
        if (message.reason === 'exiled') this.#exileTold = true
        return
      case 'forward':
        if (message.commit !== undefined) this.#answerProbe(from, message.commit)
        return
      case 'accept': {
        for (const item of message.entries) {
          if (item.position > this.#log.commit) this.#log.store(item.position, message.ballot, item.entry, false)
        }
        const ranges = message.entries.length === 0 ? [] : [{ from: message.entries[0]?.position ?? 0, to: message.entries.at(-1)?.position ?? 0 }]
        this.#send(from, { type: 'accepted', ballot: message.ballot, ranges, commit: this.#log.commit })
        return
      }
      default:
        return
    }
  }

  // ---------------------------------------------------------------- timers

  #onLeaderTick(leader: Leader): void {
    const government = this.#government
    assert(government !== null, 'leader without government')
    if (this.#now % this.#pingTicks === 0) {
      for (const id of leader.recipients) this.#sendHeartbeat(leader, id)
      leader.commitAnnounced = this.#log.commit
      leader.announceWanted = false
      this.#retransmit(leader)
    }
    // A leader that no longer hears a quorum of its parliament is the one cut
    // off: it steps down rather than exile the others or take more writes.
    const heard = heardWithin(this.id, leader.progress, this.#now, this.#timeoutTicks)
    if (!hasQuorum(leader.parliament, heard) || !hasQuorum(parliamentOf(government), heard)) {
      this.#stepDown()
      return
    }
    for (const id of membersOf(government)) {
      if (id === this.id) continue
      const progress = this.#progressOf(leader, id)
      if (this.#now - progress.heardTick > this.#exileTicks) this.#exileLost(leader, id)
      // It needs entries this leader does not hold: the leader arrived later,
      // or resumed from a snapshot past them. Another member may still hold
      // them (it asks them, see `#maybeCatchUpFromPeers`). One still behind
      // after as long as a silent member is given is exiled: only a fresh
      // start helps it.
      if (progress.answered && progress.commit < this.#log.trim) {
        if (progress.behindTrimTick < 0) progress.behindTrimTick = this.#now
        else if (this.#now - progress.behindTrimTick > this.#exileTicks) this.#exileLost(leader, id)
      } else {
        progress.behindTrimTick = -1
      }
    }
    this.#noticeExiles(government)
  }

  /** Every `exileNoticeTicks`, tells the exiles this government remembers (and can reach) that they were exiled. */
  #noticeExiles(government: Government): void {
    if (this.#exileNoticeTicks <= 0 || this.#now - this.#exileNoticeTick < this.#exileNoticeTicks) return
    this.#exileNoticeTick = this.#now
    for (const id of government.exiled) if (id !== this.id && government.properties[id] !== undefined) this.#tellExiled(id)
  }

  #onCandidateTick(candidate: Candidate): void {
    if (this.#now - candidate.sentTick < this.#pingTicks * RESEND_PINGS) return
    candidate.sentTick = this.#now
    for (const id of candidate.asked) if (!candidate.promises.has(id)) this.#send(id, this.#prepareFor(candidate, id))
  }

  /**
   * An exile nobody has told yet (it learned by committing the government
   * itself) asks that government's members every timeout, with an empty
   * forward and its commit point: one that applied it answers that it was
   * exiled (see `exileTold`), one behind it with the chosen entries it holds.
   */
  #onExiledTick(): void {
    const government = this.#government
    if (this.#exileTold || government === null || this.#now - this.#probeTick < this.#timeoutTicks) return
    this.#probe(membersOf(government))
  }

  /** Asks each of `ids` but this member, with an empty forward and this member's commit point (see `#answerProbe`). */
  #probe(ids: Iterable<string>): void {
    this.#probeTick = this.#now
    const commit = this.#log.commit
    for (const id of ids) if (id !== this.id) this.#send(id, { type: 'forward', submissions: [], commit })
  }

  #onFollowerTick(): void {
    if (this.#now >= this.#electionTick) this.#startElection()
    this.#maybeProbe()
    this.#maybeCatchUpFromPeers()
  }

  /**
   * A member whose commit point has not moved for a timeout while its leader
   * announces a higher one lacks entries the leader cannot send: the leader
   * resumed from a snapshot past them, or arrived after them. It asks the
   * other members, every timeout, as a member no leader speaks to does
   * (`#probe`); one that holds them answers with the chosen entries.
   */
  #maybeCatchUpFromPeers(): void {
    const commit = this.#log.commit
    if (commit !== this.#tickCommit) {
      this.#tickCommit = commit
      this.#commitTick = this.#now
      return
    }
    const government = this.#government
    if (government === null || this.#leaderCommit <= commit || this.#now - this.#commitTick <= this.#timeoutTicks) return
    if (this.#now - this.#probeTick < this.#timeoutTicks) return
    this.#probe(membersOf(government))
  }

  /**
   * A member no leader has spoken to for an exile timeout may have been
   * exiled without hearing of it (a constituent never stands for election,
   * so no refusal would reach it). It asks the parliaments it knows, every
   * timeout, with an empty forward and its commit point; whoever knows it
   * was exiled says so, and a member ahead of it sends the chosen entries
   * it lacks (`#answerProbe`): it may have been seated in a parliament it
   * never heard of. Those asked are the parliament of its government and of
   * every government it accepted past its commit point: a member restarted
   * from an old snapshot may find every member of its government exiled or
   * gone, while the governments it accepted after it name the members that
   * live on.
   */
  #maybeProbe(): void {
    const government = this.#government
    if (government === null || this.#now - this.#leaderTick <= this.#exileTicks) return
    if (this.#now - this.#probeTick < this.#timeoutTicks) return
    const ids = new Set(parliamentOf(government))
    for (const slot of this.#log.uncommitted()) {
      if (slot.entry.type === 'government') for (const id of parliamentOf(slot.entry.government)) ids.add(id)
    }
    this.#probe(ids)
  }

  /**
   * A member no leader speaks to probed this one with its commit point: it
   * gets the chosen entries after it that this member holds, at most
   * `chosenMax` (the next probe asks on from there). Its parliament may be
   * gone for good while the members left each know a different government,
   * each one seating itself only as a constituent that never stands: only
   * the entries the others lack make one of them a candidate again.
   */
  #answerProbe(to: string, commit: number): void {
    const mine = this.#log.commit
    // Behind the trim, what it lacks is gone here too.
    if (this.#government === null || commit >= mine || commit < this.#log.trim) return
    const chosen = this.#log.acceptedRange(commit + 1, Math.min(mine, commit + this.#chosenMax))
    if (chosen.length > 0) this.#send(to, { type: 'forward', submissions: [], chosen: this.#fitting(chosen) })
  }

  /**
   * The chosen entries a member ahead answered this member's probe with:
   * stored as chosen, and output in order. A candidate that they seat out of
   * the parliament stands down, as when a promise shows them
   * (`#learnChosen`); one still seated is held to the government it applied
   * now (`#evaluateCandidacy` reads it), or stands again in a later election.
   */
  #learnProbeAnswer(chosen: readonly Accepted[]): void {
    if (this.#government === null) return
    this.#storeChosen(chosen, Number.MAX_SAFE_INTEGER)
    this.#stillSeated()
  }

  /** Stores the entries of `items` past the commit point and at or below `upTo` as chosen, and outputs what follows in order. */
  #storeChosen(items: readonly Accepted[], upTo: number): void {
    for (const item of items) {
      if (item.position > this.#log.commit && item.position <= upTo) this.#log.store(item.position, item.ballot, item.entry, true)
    }
    this.#advanceCommit(this.#log.commit, this.#log.promised)
  }

  /** Whether this member is still a candidate after learning chosen entries: one they seat out of the parliament stands down. */
  #stillSeated(): boolean {
    if (this.#state.role !== 'candidate') return false
    const government = this.#government
    if (government !== null && !isParliament(government, this.id)) {
      this.#stepDown()
      return false
    }
    return true
  }

  #onSubmitterTick(): void {
    if (this.#government === null || this.#state.role === 'exiled') return
    if (this.#pending.size > 0 && this.#now - this.#forwardTick >= this.#timeoutTicks) this.#forwardPending()
    if (this.#now - this.#membershipTick >= this.#timeoutTicks) {
      this.#membershipTick = this.#now
      if (this.#naturalized && !this.#government.naturalized.includes(this.id)) this.#sendNaturalize()
      if (this.#leaving) this.#sendLeave()
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
    if (this.#state.role === 'leader') return
    const round = Math.max(this.#roundSeen, this.#log.promised.round) + 1
    const ballot: Ballot = { round, id: this.id }
    this.#roundSeen = round
    this.#log.promise(ballot)
    const commit = this.#log.commit
    const candidate: Candidate = {
      role: 'candidate',
      ballot,
      promises: new Map([[this.id, { accepted: this.#log.acceptedFrom(commit + 1), commit, from: commit + 1 }]]),
      asked: new Set([this.id]),
      shownTo: new Set(),
      sentTick: this.#now,
    }
    this.#state = candidate
    this.#ask(candidate, parliamentOf(government))
    this.#evaluateCandidacy(candidate)
  }

  #ask(candidate: Candidate, ids: readonly string[]): void {
    for (const id of ids) {
      if (candidate.asked.has(id)) continue
      candidate.asked.add(id)
      this.#send(id, this.#prepareFor(candidate, id))
    }
  }

  #prepareFor(candidate: Candidate, id: string): MessageOf<'prepare'> {
    const prepare = { type: 'prepare', ballot: candidate.ballot, from: this.#log.commit + 1 } as const
    const government = this.#government
    if (!candidate.shownTo.has(id) || government === null) return prepare
    return { ...prepare, government: { position: this.#governmentPosition, government } }
  }

  /** Phase 1b: what this member accepted from the position the candidate asks for. */
  #sendPromise(from: string, message: MessageOf<'prepare'>): void {
    // Positions this member trimmed are chosen and forgotten: it promises on
    // the rest, and the candidate counts it only where that is complete. So
    // are those it retained below the snapshot it resumed from (see `promisedFrom`).
    const first = Math.max(message.from, this.#log.promisedFrom)
    const position = this.#governmentPosition
    const government = this.#government
    // The government it applied, when the candidate asks for it and it was trimmed here.
    const trimmedGovernment = government !== null && position >= message.from && position < first ? { government: { position, government } } : {}
    this.#send(from, {
      type: 'promise',
      ballot: message.ballot,
      accepted: this.#log.acceptedFrom(first),
      commit: this.#log.commit,
      from: first,
      ...trimmedGovernment,
    })
  }

  #receivePromise(candidate: Candidate, from: string, message: MessageOf<'promise'>): void {
    if (this.#rules.compare(message.ballot, candidate.ballot) !== 0) return
    candidate.promises.set(from, { accepted: message.accepted, commit: message.commit, from: message.from })
    if (message.commit > this.#log.commit && !this.#learnChosen(message)) return
    this.#evaluateCandidacy(candidate)
  }

  /**
   * A candidate behind a promiser learns what the promise shows chosen: the
   * entries it holds at or below its commit point (every position a member
   * output holds the chosen entry until trimmed), and the government it
   * applied, at its position, which it holds even where it trimmed. A
   * candidate restarted from its storage behind the others may need exactly
   * that: a government chosen since, whose parliament (perhaps this
   * candidate alone) now decides, while the parliament before it has lost
   * its quorum for good. Returns whether it still stands: what it learned
   * may seat it out of the parliament, or exile it.
   */
  #learnChosen(message: MessageOf<'promise'>): boolean {
    this.#storeChosen(message.accepted, message.commit)
    // Only where it is output at once. Its ballot is not known: it is held
    // under this candidate's, at or above the one that chose it (whoever
    // knows a position chosen has promised that ballot or a later one).
    const applied = message.government
    if (applied !== undefined && applied.position === this.#log.commit + 1 && applied.position <= message.commit) {
      this.#log.store(applied.position, message.ballot, { type: 'government', government: applied.government }, true)
      this.#advanceCommit(this.#log.commit, this.#log.promised)
    }
    return this.#stillSeated()
  }

  /**
   * Phase 1 completes when, for every government that decides a position this
   * candidate will re-propose, a quorum of that government's parliament has
   * promised on every position that government decides. Governments found
   * accepted past the commit point extend the chain. A member that trimmed
   * positions (it joined later, or learned them chosen and forgot them)
   * promises on the rest only, and counts only for the governments deciding
   * positions after its trim.
   */
  #evaluateCandidacy(candidate: Candidate): void {
    const government = this.#government
    assert(government !== null, 'candidate without government')
    const commit = this.#log.commit
    const merged = this.#mergePromises(candidate)
    let end = commit
    for (const position of merged.keys()) end = Math.max(end, position)
    // Each parliament with the first position it decides that this candidate recovers.
    const parliaments: { parliament: string[]; first: number }[] = [{ parliament: parliamentOf(government), first: commit + 1 }]
    if (this.#rules.followsGovernmentChain) {
      for (let position = commit + 1; position <= end; position++) {
        const accepted = merged.get(position)
        if (accepted?.entry.type === 'government') parliaments.push({ parliament: parliamentOf(accepted.entry.government), first: position + 1 })
      }
    }
    const voters = new Set(candidate.promises.keys())
    let elected = true
    for (const { parliament, first } of parliaments) {
      this.#ask(candidate, parliament)
      const complete = new Set<string>()
      for (const [id, promise] of candidate.promises) if (promise.from <= first) complete.add(id)
      if (!hasQuorum(parliament, complete)) elected = false
    }
    if (!elected) return
    const leader = this.#becomeLeader(candidate.ballot, end, voters)
    // A promiser behind this leader's commit point cannot advance on the rounds
    // that follow (they start after it): its first accept carries what it lacks,
    // instead of the first ping after it was seen not to move.
    for (const [id, promise] of candidate.promises) {
      if (id === this.id || promise.commit >= commit) continue
      const progress = this.#progressOf(leader, id)
      hear(progress, promise.commit, this.#now)
      startCatchUp(progress, this.#now)
    }
    let runFrom = commit + 1
    for (let position = commit + 1; position <= end; position++) {
      const entry = this.#recoveredEntry(merged, position)
      if (entry.type === 'government') {
        if (runFrom < position) this.#sendRound(leader, runFrom, position - 1)
        this.#proposeAt(leader, position, entry, false)
        runFrom = position + 1
      } else {
        this.#proposeAt(leader, position, entry, false, true)
      }
    }
    if (runFrom <= end) this.#sendRound(leader, runFrom, end)
  }

  /** What a new leader re-proposes at `position`: what it knows chosen there, else the merged promises' entry, else a noop. */
  #recoveredEntry(merged: ReadonlyMap<number, Accepted>, position: number): LogEntry {
    const known = this.#log.get(position)
    if (known !== undefined && known.chosen) return known.entry
    return merged.get(position)?.entry ?? { type: 'noop' }
  }

  /** Per position, the entry accepted under the highest ballot among the promises. */
  #mergePromises(candidate: Candidate): Map<number, Accepted> {
    const merged = new Map<number, Accepted>()
    for (const { accepted } of candidate.promises.values()) {
      for (const item of accepted) {
        if (item.position <= this.#log.commit) continue
        const current = merged.get(item.position)
        if (current === undefined || this.#rules.replaces(this.#rules.compare(item.ballot, current.ballot))) merged.set(item.position, item)
      }
    }
    return merged
  }

  /** `heard`: members known alive now (the promisers); the others count as silent. */
  #becomeLeader(ballot: Ballot, recoveredTo: number, heard: ReadonlySet<string> = new Set(), electionGovernment = true): Leader {
    const government = this.#government
    assert(government !== null, 'leader without government')
    const leader: Leader = {
      role: 'leader',
      ballot,
      next: Math.max(this.#log.commit, recoveredTo) + 1,
      rounds: [],
      openBytes: 0,
      progress: new Map(),
      queue: [],
      queuedKeys: new SubmissionSet(),
      recoveredTo,
      electedCommit: this.#log.commit,
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
    this.#state = leader
    this.#leaderId = this.id
    this.#updateRecipients(leader)
    for (const id of membersOf(government)) {
      const progress = this.#progressOf(leader, id)
      if (!heard.has(id)) progress.heardTick = this.#now - this.#timeoutTicks - 1
    }
    if (this.#naturalized && !government.naturalized.includes(this.id)) leader.naturalize.add(this.id)
    if (this.#leaving) leader.exile.add(this.id)
    for (const [seq, value] of this.#pending) this.#queueSubmission(leader, this.#submission(seq, value))
    return leader
  }

  #stepDown(): void {
    if (this.#state.role !== 'leader' && this.#state.role !== 'candidate') return
    this.#state = FOLLOWER
    this.#resetElectionTimer()
  }

  // ---------------------------------------------------------------- leader

  #submission(seq: number, value: unknown): Submission {
    return this.#floor === 0 ? { from: this.id, seq, value } : { from: this.id, seq, value, floor: this.#floor }
  }

  #queueSubmission(leader: Leader, submission: Submission): void {
    if (leader.queuedKeys.has(submission.from, submission.seq) || this.#ledger.applied(submission.from, submission.seq)) return
    // Past the window it waits at its submitter, which forwards it again; see SUBMITTER_ABOVE_MAX.
    if (!this.#ledger.admits(submission.from, submission.seq, submission.floor)) return
    if (leader.queue.length >= this.#pendingMax) return
    leader.queuedKeys.add(submission.from, submission.seq)
    leader.queue.push(submission)
  }

  #receiveForward(leader: Leader, from: string, message: MessageOf<'forward'>): void {
    const government = this.#government
    if (government === null || !isMember(government, from)) return
    for (const submission of message.submissions) {
      if (submission.from === from) this.#queueSubmission(leader, submission)
    }
  }

  #receiveNaturalize(leader: Leader, from: string, message: MessageOf<'naturalize'>): void {
    const government = this.#government
    if (government === null || message.id !== from) return
    if (isMember(government, from) && !government.naturalized.includes(from)) leader.naturalize.add(from)
  }

  /** Proposes what can be proposed now: a government change, or batches of submissions. */
  #propose(leader: Leader): void {
    const government = this.#government
    assert(government !== null, 'leader without government')
    const commit = this.#log.commit
    const drained = commit === leader.next - 1
    if (this.#governmentInFlight(leader)) return
    if (this.#wantsGovernment(leader, government)) {
      if (drained && commit >= leader.recoveredTo) this.#proposeGovernment(leader, government)
      return
    }
    if (commit < leader.recoveredTo) return
    let open = leader.next - 1 - commit
    while (leader.queue.length > 0 && open < this.#inflightMax) {
      const count = this.#batchCount(leader, Math.min(leader.queue.length, this.#batchEntriesMax, this.#inflightMax - open))
      if (count === 0) return
      // A submitter exiled since it submitted has lost its record; its values are dropped.
      const batch = leader.queue.splice(0, count).filter((submission) => {
        const member = isMember(government, submission.from)
        if (!member) leader.queuedKeys.delete(submission.from, submission.seq)
        return member
      })
      if (batch.length === 0) continue
      const from = leader.next
      for (const submission of batch) this.#proposeAt(leader, leader.next, { type: 'value', submission }, false, true)
      this.#sendRound(leader, from, leader.next - 1)
      open += count
    }
  }

  /**
   * How many of the first `count` queued submissions the next round takes:
   * with `entryBytes`, as many as fit in `messageBytesMax` and keep the open
   * rounds within twice that, and at least one when no round is open; 0
   * means wait for the open rounds to be chosen.
   */
  #batchCount(leader: Leader, count: number): number {
    const entryBytes = this.#entryBytes
    if (entryBytes === null) return count
    const room = Math.min(this.#messageBytesMax, 2 * this.#messageBytesMax - leader.openBytes)
    let bytes = 0
    for (let index = 0; index < count; index++) {
      bytes += entryBytes({ type: 'value', submission: leader.queue[index] as Submission })
      if (bytes > room) return index === 0 && leader.openBytes === 0 ? 1 : index
    }
    return count
  }

  #wantsGovernment(leader: Leader, government: Government): boolean {
    if (leader.electionGovernment) return true
    for (const id of leader.exile) {
      // A leader leaves only once it can hand on to a live voter.
      if (isMember(government, id) && (id !== this.id || this.#successor(leader, government) !== null)) return true
    }
    for (const id of leader.immigrate.keys()) if (!isMember(government, id) && !government.exiled.includes(id)) return true
    for (const id of leader.naturalize) if (isMember(government, id) && !government.naturalized.includes(id)) return true
    return false
  }

  #governmentInFlight(leader: Leader): boolean {
    for (const round of leader.rounds) if (round.government && !round.chosen) return true
    return false
  }

  #proposeGovernment(leader: Leader, current: Government): void {
    const live = heardWithin(this.id, leader.progress, this.#now, this.#timeoutTicks)
    // This leader holds the state whatever the government it recovered says.
    if (this.#naturalized) leader.naturalize.add(this.id)
    // A leaving leader names its successor first: once chosen, the government
    // hands leadership on, and the successor stands at once (`#applyGovernment`).
    const successor = leader.exile.has(this.id) ? this.#successor(leader, current) : null
    const exile = new Set(leader.exile)
    if (successor === null) exile.delete(this.id)
    const government = nextGovernment(current, {
      leader: successor ?? this.id,
      parliamentSize: this.#parliamentSize,
      live,
      immigrate: leader.immigrate,
      naturalize: leader.naturalize,
      exile,
      submitters: this.#ledger.toTable(),
    })
    assert(government.majority[0] === (successor ?? this.id), 'a leader leads the government it proposes, or hands it on')
    leader.electionGovernment = false
    leader.immigrate.clear()
    leader.naturalize.clear()
    leader.exile.clear()
    this.#proposeAt(leader, leader.next, { type: 'government', government }, true)
  }

  /** The voter a leaving leader hands on to: naturalized, heard lately, not leaving; seated ones first. */
  #successor(leader: Leader, government: Government): string | null {
    const live = heardWithin(this.id, leader.progress, this.#now, this.#timeoutTicks)
    const fits = (id: string): boolean => id !== this.id && !leader.exile.has(id) && live.has(id) && government.naturalized.includes(id)
    return parliamentOf(government).find(fits) ?? membersOf(government).find(fits) ?? null
  }

  /**
   * Accepts `entry` at `position` under the leader's ballot and opens a round
   * for it, unless `batched` (the caller opens one round for a batch).
   */
  #proposeAt(leader: Leader, position: number, entry: LogEntry, government: boolean, batched = false): void {
    assert(position === leader.next || position <= leader.recoveredTo, 'proposals are contiguous')
    this.#log.propose(position, leader.ballot, entry)
    if (position >= leader.next) leader.next = position + 1
    if (entry.type !== 'government') {
      if (!batched) this.#sendRound(leader, position, position, government)
      return
    }
    leader.proposed.set(position, entry.government)
    this.#updateRecipients(leader)
    this.#sendRound(leader, position, position, government)
    // Positions after a government are decided by its parliament.
    leader.parliament = parliamentOf(entry.government)
  }

  #updateRecipients(leader: Leader): void {
    const government = this.#government
    assert(government !== null, 'no government')
    const ids = new Set(membersOf(government))
    for (const proposed of leader.proposed.values()) for (const id of membersOf(proposed)) ids.add(id)
    ids.delete(this.id)
    leader.recipients = ids
  }

  #sendRound(leader: Leader, from: number, to: number, government = false): void {
    const entries = this.#log.acceptedRange(from, to)
    const round: Round = {
      from,
      to,
      parliament: leader.parliament,
      acks: new Set([this.id]),
      sentTick: this.#now,
      chosen: false,
      government,
      bytes: this.#bytesOf(entries),
    }
    leader.rounds.push(round)
    leader.openBytes += round.bytes
    for (const id of leader.recipients) this.#send(id, this.#acceptMessage(leader, id, entries))
    leader.commitAnnounced = this.#log.commit
    leader.announceWanted = false
    this.#maybeChoose(leader, round)
  }

  /**
   * Members learn the commit point from the next accept; when no round went
   * out since it advanced, announce it now rather than at the next ping, so a
   * follower's submission resolves one round trip after it is chosen. Only
   * this leader's own submissions chosen: nobody else waits, the next round or
   * ping carries it.
   */
  #announceCommit(leader: Leader): void {
    if (this.#log.commit <= leader.commitAnnounced || !leader.announceWanted) return
    for (const id of leader.recipients) this.#send(id, this.#acceptMessage(leader, id, []))
    leader.commitAnnounced = this.#log.commit
    leader.announceWanted = false
  }

  #acceptMessage(leader: Leader, to: string, entries: readonly Accepted[]): MessageOf<'accept'> {
    return {
      type: 'accept',
      ballot: leader.ballot,
      entries,
      chosen: this.#chosenFor(leader, to),
      commit: this.#log.commit,
      trim: this.#announcedTrim(leader),
    }
  }

  /** Chosen entries a lagging member is missing, at most `chosenMax` a message. */
  #chosenFor(leader: Leader, to: string): Accepted[] {
    const progress = leader.progress.get(to)
    const commit = this.#log.commit
    if (progress === undefined || !progress.catchingUp || progress.commit >= commit) return []
    const first = Math.max(progress.commit, progress.chosenSentTo) + 1
    const last = Math.min(commit, first + this.#chosenMax - 1)
    if (first > last) return []
    const chosen = this.#fitting(this.#log.acceptedRange(first, last))
    progress.chosenSentTo = chosen.length === 0 ? last : (chosen[chosen.length - 1] as Accepted).position
    return chosen
  }

  /** What `entries` take in a message; 0 without `entryBytes`. */
  #bytesOf(entries: readonly Accepted[]): number {
    const entryBytes = this.#entryBytes
    if (entryBytes === null) return 0
    let bytes = 0
    for (const item of entries) bytes += entryBytes(item.entry)
    return bytes
  }

  /** The first of `entries` that fit in `messageBytesMax` together, and at least one. */
  #fitting(entries: Accepted[]): Accepted[] {
    const entryBytes = this.#entryBytes
    if (entryBytes === null) return entries
    let bytes = 0
    for (let index = 0; index < entries.length; index++) {
      bytes += entryBytes((entries[index] as Accepted).entry)
      if (bytes > this.#messageBytesMax && index > 0) return entries.slice(0, index)
    }
    return entries
  }

  /** A ping; a member whose commit has not moved since the last one is sent what it misses. */
  #sendHeartbeat(leader: Leader, id: string): void {
    const progress = this.#progressOf(leader, id)
    const commit = this.#log.commit
    if (progress.pingCommit !== null && progress.pingCommit === progress.commit && progress.commit < commit) {
      if (!progress.catchingUp) {
        progress.catchingUp = true
        progress.catchUpTick = this.#now
      }
      // Send onwards from where the last batch ended; start over once all was sent (some was lost).
      // A member heard from nothing since the last start (down, cut off) is not sent the whole
      // range again at every ping: only once it answers, or CATCH_UP_SILENT_PINGS later.
      if (progress.chosenSentTo < progress.commit) {
        progress.chosenSentTo = progress.commit
      } else if (
        progress.chosenSentTo >= commit &&
        (progress.heardTick > progress.catchUpTick || this.#now - progress.catchUpTick >= CATCH_UP_SILENT_PINGS * this.#pingTicks)
      ) {
        progress.chosenSentTo = progress.commit
        progress.catchUpTick = this.#now
      }
    }
    progress.pingCommit = progress.commit
    this.#send(id, this.#acceptMessage(leader, id, []))
  }

  #retransmit(leader: Leader): void {
    for (const round of leader.rounds) {
      if (round.chosen || this.#now - round.sentTick < this.#pingTicks * RESEND_PINGS) continue
      round.sentTick = this.#now
      const entries = this.#log.acceptedRange(round.from, round.to)
      const trim = this.#announcedTrim(leader)
      for (const id of round.parliament) {
        if (!round.acks.has(id)) this.#send(id, { type: 'accept', ballot: leader.ballot, entries, chosen: [], commit: this.#log.commit, trim })
      }
    }
  }

  #progressOf(leader: Leader, id: string): Progress {
    let progress = leader.progress.get(id)
    if (progress === undefined) {
      // A newcomer admitted by the current government starts its log there.
      const newcomer = this.#government !== null && this.#government.arrived[id] === this.#government.promise
      // Until it answers, guess it holds what this leader trimmed, so a newcomer
      // admitted under an earlier leader still gets its arrival sent.
      progress = newProgress(newcomer ? this.#governmentPosition - 1 : this.#log.trim, newcomer, this.#now)
      leader.progress.set(id, progress)
    }
    return progress
  }

  #receiveAccepted(leader: Leader, from: string, message: MessageOf<'accepted'>): void {
    if (this.#rules.compare(message.ballot, leader.ballot) !== 0) return
    const progress = this.#progressOf(leader, from)
    hear(progress, message.commit, this.#now)
    if (progress.catchingUp && progress.commit >= this.#log.commit) progress.catchingUp = false
    // Behind the point this leader was elected at (its promise came late, or
    // was lost): as at the election, it is sent what it lacks at once.
    else if (!progress.catchingUp && progress.commit < leader.electedCommit) startCatchUp(progress, this.#now)
    for (const range of message.ranges) {
      for (const round of acknowledge(leader.rounds, from, range)) this.#maybeChoose(leader, round)
    }
    // The next batch of what it lacks, if any is left to send: an accept
    // without any would only be answered in turn, as fast as the network goes.
    if (!progress.catchingUp) return
    const next = this.#acceptMessage(leader, from, [])
    if (next.chosen.length > 0) this.#send(from, next)
  }

  #maybeChoose(leader: Leader, round: Round): void {
    if (round.chosen || !this.#rules.decides(round.parliament, round.acks)) return
    round.chosen = true
    leader.openBytes -= round.bytes
    this.#log.markChosen(round.from, round.to)
    this.#advanceCommit(this.#log.commit, leader.ballot)
    while (leader.rounds.length > 0 && (leader.rounds[0] as Round).chosen && (leader.rounds[0] as Round).to <= this.#log.commit) {
      leader.rounds.shift()
    }
    this.#maybeTrim(leader)
  }

  /**
   * The trim a leader tells its followers to apply: its own, or lower while
   * a member's commit point is below it, and none (-1) until every member
   * has said where it stands. A leader resumed from a snapshot later than
   * another member's commit point holds nothing before it; the members that
   * do must keep it for that one (`#maybeCatchUpFromPeers`).
   */
  #announcedTrim(leader: Leader): number {
    const government = this.#government
    let trim = this.#log.trim
    if (government === null) return trim
    for (const id of membersOf(government)) {
      if (id === this.id) continue
      const progress = leader.progress.get(id)
      if (progress === undefined || !progress.answered) return -1
      if (progress.commit < trim) trim = progress.commit
    }
    return trim
  }

  #maybeTrim(leader: Leader): void {
    const government = this.#government
    if (government === null) return
    let trim = this.#log.commit
    for (const id of membersOf(government)) {
      if (id === this.id) continue
      trim = Math.min(trim, this.#progressOf(leader, id).commit)
    }
    this.#log.trimTo(trim)
  }

  // ---------------------------------------------------------------- acceptor

  /** Phase 2b at a follower: store, learn what is chosen, acknowledge. */
  #receiveAccept(from: string, message: MessageOf<'accept'>): void {
    const newLeader = this.#leaderId !== from
    this.#leaderId = from
    this.#leaderTick = this.#now
    this.#resetElectionTimer()
    for (const item of message.chosen) {
      if (item.position > this.#log.commit) this.#log.store(item.position, item.ballot, item.entry, true)
    }
    const ranges = this.#storeEntries(message)
    if (newLeader || message.commit > this.#leaderCommit) this.#leaderCommit = message.commit
    this.#advanceCommit(message.commit, message.ballot)
    this.#log.trimTo(Math.min(message.trim, this.#log.commit))
    this.#send(from, { type: 'accepted', ballot: message.ballot, ranges, commit: this.#log.commit })
    if (newLeader) this.#forwardPending()
    // Only a hand-over applied just now puts the election due (the timer was reset above).
    if (this.#state.role === 'follower' && this.#now >= this.#electionTick) this.#startElection()
  }

  /**
   * Stores `message.entries` above the commit point; returns the ranges to
   * acknowledge: every position of the message, those at or below the commit
   * point too, trimmed ones included. Such a position is chosen, and this
   * member learned so from a leader whose ballot it promised, at or above the
   * first ballot that chose it; a proposal under a higher ballot carries the
   * chosen entry there (Paxos), and this accept's ballot is at or above the
   * promise, so the vote is true without holding the entry. A leader that
   * recovered those positions from other promises (it was behind: restarted
   * from an old snapshot) may need exactly this vote to finish them, when
   * this member is the only voter of their parliament left.
   */
  #storeEntries(message: MessageOf<'accept'>): PositionRange[] {
    const ranges: PositionRange[] = []
    let rangeFrom = -1
    let rangeTo = -2
    for (const item of message.entries) {
      if (item.position > this.#log.commit) this.#log.store(item.position, message.ballot, item.entry, false)
      if (item.position !== rangeTo + 1) {
        if (rangeFrom >= 0) ranges.push({ from: rangeFrom, to: rangeTo })
        rangeFrom = item.position
      }
      rangeTo = item.position
    }
    if (rangeFrom >= 0) ranges.push({ from: rangeFrom, to: rangeTo })
    return ranges
  }

  /** A newcomer adopts its log when the leader sends its arrival government. */
  #maybeArrive(message: MessageOf<'accept'>): boolean {
    const arrival = message.chosen.find((item) => {
      if (item.entry.type !== 'government') return false
      const government = item.entry.government
      return government.arrived[this.id] === government.promise && isMember(government, this.id)
    })
    if (arrival === undefined || arrival.entry.type !== 'government') return false
    this.#arrival = arrival.entry.government.promise
    this.#log.arrive(arrival.position)
    this.#state = FOLLOWER
    return true
  }

  #receiveReject(from: string, message: MessageOf<'reject'>, mine: Ballot | null): void {
    // Only a member that applied the government exiling this one says so: it is chosen.
    if (message.reason === 'exiled') {
      this.#exileTold = true
      return this.#exiled()
    }
    if (mine === null || this.#rules.compare(message.ballot, mine) !== 0) return
    if (message.reason === 'ballot' && this.#rules.compare(message.promised, mine) > 0) this.#stepDown()
    // A member behind the government that seated this candidate refuses
    // every prepare of its parliament until it learns it. Nobody may be left
    // to tell it (the parliament before may be gone for good, and what it
    // lacks may predate this candidate's arrival), so the prepare goes again
    // with that government: chosen, it is as good as known. Elected, this
    // member catches it up, or exiles it when it lacks what it needs. Once a
    // ballot, and only to one behind it: one that knows the government and
    // still refuses (it forgot this candidate's exile, or runs a version that
    // ignores the field) would only refuse again.
    else if (message.reason === 'not-member' && this.#state.role === 'candidate') {
      const candidate = this.#state
      if (message.commit >= this.#governmentPosition || candidate.shownTo.has(from)) return
      candidate.shownTo.add(from)
      this.#send(from, this.#prepareFor(candidate, from))
    }
  }

  #tellExiled(to: string): void {
    if (this.#toldExiled.has(to)) return
    this.#toldExiled.add(to)
    const promised = this.#log.promised
    this.#send(to, { type: 'reject', ballot: promised, promised, commit: this.#log.commit, reason: 'exiled' })
  }

  #exiled(): void {
    // An exile nobody told asks at its next tick (`#onExiledTick`).
    if (this.#state.role !== 'exiled') this.#probeTick = this.#now - this.#timeoutTicks
    const state = this.#state
    if (state.role === 'leader') {
      // Last act of a leader that exiled itself: tell the others it is chosen.
      for (const id of state.recipients) this.#send(id, this.#acceptMessage(state, id, []))
    }
    this.#state = EXILED
  }

  // ---------------------------------------------------------------- output

  /** Outputs every entry now known chosen, in order; see `Log.advance`. */
  #advanceCommit(commit: number, ballot: Ballot): void {
    this.#log.advance(commit, ballot, (position, entry) => {
      this.#apply(position, entry)
      return this.#state.role !== 'exiled'
    })
  }

  #apply(position: number, entry: LogEntry): void {
    const state = this.#state
    if (state.role === 'leader' && (entry.type !== 'value' || entry.submission.from !== this.id)) state.announceWanted = true
    if (entry.type === 'government') {
      this.#applyGovernment(position, entry.government)
      this.#outCommitted.push({ position, promise: entry.government.promise, entry, apply: true })
      return
    }
    const government = this.#government
    assert(government !== null, 'entry before any government')
    const promise = `${government.number}/${position - this.#governmentPosition}`
    let apply = true
    if (entry.type === 'value') {
      const { from, seq, floor } = entry.submission
      apply = this.#ledger.record(from, seq, floor) || this.#rules.appliesTwice
      if (from === this.id) this.#pending.delete(seq)
      if (state.role === 'leader') state.queuedKeys.delete(from, seq)
    }
    this.#outCommitted.push({ position, promise, entry, apply })
  }

  #applyGovernment(position: number, government: Government): void {
    const before = this.#government
    this.#government = government
    if (this.#shown !== null && this.#shown.number <= government.number) this.#shown = null
    this.#governmentPosition = position
    this.#ledger = SubmitterLedger.fromTable(government.submitters)
    if (!isMember(government, this.id)) {
      this.#exiled()
      return
    }
    if (government.naturalized.includes(this.id)) this.#naturalized = true
    const state = this.#state
    if (state.role === 'leader') {
      for (const key of [...state.proposed.keys()]) if (key <= position) state.proposed.delete(key)
      this.#updateRecipients(state)
      for (const id of membersOf(government)) this.#progressOf(state, id)
      for (const id of [...state.progress.keys()]) if (!isMember(government, id)) state.progress.delete(id)
      // Those it exiles hear it now: no ping reaches them any more, and one
      // that asked to leave would wait to ask again (a whole ping) to learn it.
      for (const id of government.exiled) if (before !== null && isMember(before, id)) this.#tellExiled(id)
      if (!isParliament(government, this.id)) this.#stepDown()
    } else if (this.#leaderId !== null && !isMember(government, this.#leaderId)) {
      // The leader left, handing on to the first of the majority: that one
      // stands now (see `#receiveAccept`), and nobody refuses it for having
      // heard the leader that left. It tells the one that left, as a leader
      // tells those its government exiles.
      this.#leaderId = null
      if (government.majority[0] === this.id) {
        this.#electionTick = this.#now
        for (const id of government.exiled) if (before !== null && isMember(before, id)) this.#tellExiled(id)
      }
    }
    this.#forwardPending()
  }

  // ---------------------------------------------------------------- submitter

  #currentLeaderId(): string | null {
    if (this.#leaderId !== null && this.#now - this.#leaderTick < this.#timeoutTicks) return this.#leaderId
    return this.leader
  }

  #forwardPending(): void {
    this.#forwardTick = this.#now
    if (this.#pending.size === 0) return
    const state = this.#state
    if (state.role === 'leader') {
      for (const [seq, value] of this.#pending) this.#queueSubmission(state, this.#submission(seq, value))
      return
    }
    const leader = this.#currentLeaderId()
    if (leader === null || leader === this.id) return
    const submissions: Submission[] = []
    for (const [seq, value] of this.#pending) submissions.push(this.#submission(seq, value))
    this.#sendForward(leader, submissions)
  }

  /** Forwards `submissions` to `leader` in messages of at most `batchEntriesMax` entries and `messageBytesMax`, each at least one. */
  #sendForward(leader: string, submissions: readonly Submission[]): void {
    const entryBytes = this.#entryBytes
    let first = 0
    let bytes = 0
    for (let index = 0; index < submissions.length; index++) {
      const size = entryBytes === null ? 0 : entryBytes({ type: 'value', submission: submissions[index] as Submission })
      if (index > first && (index - first === this.#batchEntriesMax || bytes + size > this.#messageBytesMax)) {
        this.#send(leader, { type: 'forward', submissions: submissions.slice(first, index) })
        first = index
        bytes = 0
      }
      bytes += size
    }
    if (submissions.length > first) this.#send(leader, { type: 'forward', submissions: first === 0 ? submissions : submissions.slice(first) })
  }

  /** Exiles `id`, silent or behind the trim for an exile timeout: lost, not gone by its own leave. */
  #exileLost(leader: Leader, id: string): void {
    leader.exile.add(id)
    this.#lost.delete(id)
    this.#lost.add(id)
    if (this.#lost.size > LOST_REMEMBERED) this.#lost.delete(this.#lost.values().next().value as string)
  }

  #sendLeave(): void {
    if (this.#state.role === 'leader') {
      this.#state.exile.add(this.id)
      return
    }
    const leader = this.#currentLeaderId()
    if (leader !== null && leader !== this.id) this.#send(leader, { type: 'leave' })
  }

  #sendNaturalize(): void {
    if (this.#state.role === 'leader') {
      this.#state.naturalize.add(this.id)
      return
    }
    const leader = this.#currentLeaderId()
    if (leader !== null && leader !== this.id) this.#send(leader, { type: 'naturalize', id: this.id })
  }

  #send(to: string, message: Message): void {
    this.#outMessages.push({ from: this.id, to, message })
  }
}
