// The vocabulary of the legislator: ballots, governments, log entries and the
// messages legislators exchange. Everything here is plain JSON so that any
// transport (the simulator, HTTP) can carry it unchanged.

/** A proposer's ballot. Ordered by `round`, then by `id` as the tiebreak. */
export interface Ballot {
  readonly round: number
  readonly id: string
}

/** Member properties, set by the application (e.g. `location`, the URL peers use). */
export type Properties = Readonly<Record<string, unknown>>

/**
 * Per-submitter record of applied submissions: `[watermark, ...above]` where
 * every seq <= watermark has been applied and `above` lists applied seqs past
 * the watermark. Carried in every government so a newcomer that starts its log
 * at its arrival deduplicates exactly as the older members do.
 */
export type SubmitterTable = Readonly<Record<string, readonly number[]>>

/** The configuration of the island, itself an entry of the log. */
export interface Government {
  readonly islandId: string
  /** Sequential number of this government, 1 for the bootstrap government. */
  readonly number: number
  /** `${number}/0`: the promise label of the government entry itself. */
  readonly promise: string
  /** Voting members; the leader is `majority[0]`. */
  readonly majority: readonly string[]
  readonly minority: readonly string[]
  /** Members that receive the log but do not vote. */
  readonly constituents: readonly string[]
  /** Members that have declared they hold the application state. */
  readonly naturalized: readonly string[]
  /** Recently exiled ids (bounded); an exiled id never votes or joins again. */
  readonly exiled: readonly string[]
  /**
   * Member id to its properties; remembered exiles keep theirs, so that any
   * member (one restarted from its storage, or admitted since) can tell an
   * exile that comes back that it was exiled.
   */
  readonly properties: Readonly<Record<string, Properties>>
  /** Member id to the promise of the government that admitted it. */
  readonly arrived: Readonly<Record<string, string>>
  readonly submitters: SubmitterTable
}

/** A value enqueued by a member, identified by `from` and a per-member `seq`. */
export interface Submission {
  readonly from: string
  readonly seq: number
  readonly value: unknown
  /**
   * Set by a member restarted from its storage: every seq of `from` up to
   * this one is settled, applied already or lost with an earlier process of
   * it, so the gaps below never hold up its later seqs. Below `seq`.
   */
  readonly floor?: number
}

/** What a log position holds. */
export type LogEntry =
  | { readonly type: 'government'; readonly government: Government }
  | { readonly type: 'value'; readonly submission: Submission }
  | { readonly type: 'noop' }

/** An entry as an acceptor holds it: accepted under `ballot`. */
export interface Accepted {
  readonly position: number
  readonly ballot: Ballot
  readonly entry: LogEntry
}

/** A chosen entry, as output to the application layer, strictly in position order. */
export interface Committed {
  readonly position: number
  /** `${governmentNumber}/${offset}`: identical on every member. */
  readonly promise: string
  readonly entry: LogEntry
  /** For `value` entries: false when this submission was already applied (a resubmission). */
  readonly apply: boolean
}

export interface PositionRange {
  readonly from: number
  readonly to: number
}

export type RejectReason = 'ballot' | 'leader-alive' | 'not-member' | 'exiled' | 'trimmed'

export type Message =
  /**
   * Phase 1a: a candidate asks for promises on every position >= `from`.
   * `government`: the government the candidate applied, and its position,
   * sent to a member that refused it as no member: one behind that
   * government, which may never learn it from anyone else (see
   * `Legislator#receiveReject`).
   */
  | {
      readonly type: 'prepare'
      readonly ballot: Ballot
      readonly from: number
      readonly government?: { readonly position: number; readonly government: Government }
    }
  /**
   * Phase 1b: the acceptor's accepted entries at positions >= `from`: the
   * prepare's `from`, or later when the acceptor forgot (trimmed) the
   * positions before it, all of them chosen.
   */
  | {
      readonly type: 'promise'
      readonly ballot: Ballot
      readonly accepted: readonly Accepted[]
      readonly commit: number
      readonly from: number
      /**
       * The government the acceptor applied, and its position, when that is
       * at or after the prepare's `from` but trimmed (before this `from`):
       * it is chosen, and a candidate right behind it learns it there.
       */
      readonly government?: { readonly position: number; readonly government: Government }
    }
  /**
   * Phase 2a plus heartbeat: new `entries` under `ballot`, the leader's
   * `commit` and `trim` positions, and already chosen entries (`chosen`) that
   * this recipient is missing.
   */
  | {
      readonly type: 'accept'
      readonly ballot: Ballot
      readonly entries: readonly Accepted[]
      readonly chosen: readonly Accepted[]
      readonly commit: number
      readonly trim: number
    }
  /** Phase 2b: position ranges (inclusive) accepted under `ballot`, and the acceptor's commit. */
  | {
      readonly type: 'accepted'
      readonly ballot: Ballot
      readonly ranges: readonly PositionRange[]
      readonly commit: number
    }
  /** A refusal: the sender has promised `promised`, or does not take part (`reason`). */
  | {
      readonly type: 'reject'
      readonly ballot: Ballot
      readonly promised: Ballot
      readonly commit: number
      readonly reason: RejectReason
    }
  /**
   * A member's submissions, forwarded to the leader. Empty, it is a probe of
   * a member no leader speaks to, which gives its commit point there; a
   * member ahead of it answers with a forward carrying the `chosen` entries
   * it lacks (see `Legislator`).
   */
  | {
      readonly type: 'forward'
      readonly submissions: readonly Submission[]
      readonly commit?: number
      readonly chosen?: readonly Accepted[]
    }
  /** A request, forwarded to the leader, to admit a newcomer. */
  | { readonly type: 'immigrate'; readonly id: string; readonly properties: Properties }
  /** A member declares it holds the application state. */
  | { readonly type: 'naturalize'; readonly id: string }
  /** A member asks the leader to exile it: it is leaving the island. */
  | { readonly type: 'leave' }

export interface Envelope {
  readonly from: string
  readonly to: string
  readonly message: Message
}

/**
 * What the legislator asks its driver to do, taken once by `ready()`. The
 * driver acts on it in field order, each step finished before the next:
 *
 * 1. `persist`: write it, and make it durable, before any message of this
 *    `Ready` leaves. A message may promise what it depends on (a `promise`
 *    or `accepted` reply vouches for the promise and the entries); a member
 *    that sent it and then forgot it on a restart could let two values be
 *    chosen at one position. In-memory mode has nothing to write.
 * 2. `messages`: send them, in any order, to any subset (Paxos tolerates
 *    loss); never before step 1.
 * 3. `committed`: apply them in order. They are chosen: nothing depends on
 *    their being persisted first, and a restarted member learns them again.
 */
export interface Ready {
  readonly persist: {
    /** The ballot promised since the last `Ready`, or null when unchanged. */
    readonly promised: Ballot | null
    /**
     * Entries accepted since the last `Ready`, in the order accepted; a later
     * one at the same position replaces an earlier. `chosen` marks those
     * known chosen when stored (it may turn true later; that need not be
     * written).
     */
    readonly accepted: readonly (Accepted & { readonly chosen: boolean })[]
  }
  readonly messages: readonly Envelope[]
  readonly committed: readonly Committed[]
}

/**
 * What a durable member remembered, to construct its legislator again after
 * a restart: the promise, the entries accepted above a snapshot, and the
 * state of the log at that snapshot.
 */
export interface LegislatorRestore {
  readonly promised: Ballot | null
  /** The position the snapshot covers: everything at or below it was applied. */
  readonly position: number
  /** The latest government at or below `position`, and where it is. */
  readonly government: Government
  readonly governmentPosition: number
  /** The submitter ledger after applying `position`. */
  readonly submitters: SubmitterTable
  readonly arrival: string | null
  /** Entries accepted above `position`, in position order. */
  readonly accepted: readonly Accepted[]
  /**
   * Chosen entries just below `position`, ending at it, in position order and
   * without a gap (default none): held to serve peers whose logs end before
   * `position`, never output again.
   */
  readonly retained?: readonly Accepted[]
  /** Highest position known chosen; entries up to it are output again, in order, by the first `ready()`. */
  readonly commit: number
  /** Submitter seqs up to this one may have been used; new submissions continue above it. */
  readonly seq: number
}

/** Operating errors the legislator returns as values, never throws. */
export type LegislatorRefusal =
  | 'NOT_A_MEMBER'
  | 'EXILED'
  | 'QUEUE_FULL'
  | 'ISLAND_FULL'

export type EnqueueResult =
  | { readonly ok: true; readonly from: string; readonly seq: number }
  | { readonly ok: false; readonly code: LegislatorRefusal }

export { MUTANTS } from './mutants.js'
export type { Mutant } from './mutants.js'
