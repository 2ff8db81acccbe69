// The history checker: watches what every legislator outputs and what every
// driver enqueued, and reports each broken safety or liveness property as a
// value. It never throws on a violation; the simulator decides whether to stop.

import { isBallot } from '../paxos/ballot.js'
import { membersOf, parliamentOf } from '../paxos/government.js'
import type { Ballot, Committed, Government } from '../paxos/types.js'

export type Invariant =
  /** Two members output different entries (or promises, or apply flags) at one position. */
  | 'agreement'
  /** A member's output positions are not consecutive, or do not start at its arrival government. */
  | 'prefix'
  /** A member output a position again with other content, or its commit went back. */
  | 'no-retraction'
  /** A committed value was never enqueued, or not with this value. */
  | 'validity'
  /** A submission applied twice, skipped without having been applied, or applied state diverged. */
  | 'exactly-once'
  /** A submission its submitter saw applied is missing from a member that got past it. */
  | 'acknowledged-lost'
  /** A ballot claimed by a leader other than its proposer, or by two members. */
  | 'one-leader-per-ballot'
  /** Government numbers out of sequence: two government changes were in flight at once. */
  | 'one-government-change'
  /** A government that breaks the parliament rules (even size, a duplicate, an exiled voter). */
  | 'government'
  /** After the faults healed with a quorum alive, the island did not converge. */
  | 'liveness'
  /** A legislator threw: divergent input must be refused, never crash the core. */
  | 'exception'

export interface Violation {
  readonly seed: number
  readonly step: number
  readonly invariant: Invariant
  readonly detail: string
}

/** What the checker reads from a live legislator after each step. */
export interface MemberView {
  readonly id: string
  readonly commit: number
  readonly isLeader: boolean
  inspect(): unknown
}

interface MemberHistory {
  first: number
  last: number
  /** Position to the canonical text of what this member output there. */
  readonly outputs: Map<number, string>
  commitSeen: number
  governmentNumber: number
  offset: number
}

interface PositionRecord {
  readonly text: string
  /** The submission key when this position holds a value applied here. */
  readonly applies: string | null
  readonly promise: string
  readonly apply: boolean
  readonly member: string
}

export interface CheckerOptions {
  /** Parliament size limit the legislators were built with, for the government shape check. */
  readonly parliamentSize?: number
}

export function submissionKey(from: string, seq: number): string {
  return `${from}#${seq}`
}

function textOf(committed: Committed): string {
  return JSON.stringify(committed.entry)
}

/**
 * The ballot a leading member leads with, read from `inspect()`. Looks for
 * `ballot`, then `promised`; null when neither is a Ballot.
 */
export function leadingBallot(inspection: unknown): Ballot | null {
  if (typeof inspection !== 'object' || inspection === null) return null
  const fields = inspection as Record<string, unknown>
  for (const name of ['ballot', 'promised']) {
    const candidate = fields[name]
    if (isBallot(candidate)) return candidate
  }
  return null
}

/** `governmentsInFlight` from `inspect()`, or 0 when the legislator does not say. */
export function governmentsInFlight(inspection: unknown): number {
  if (typeof inspection !== 'object' || inspection === null) return 0
  const count = (inspection as Record<string, unknown>)['governmentsInFlight']
  return typeof count === 'number' ? count : 0
}

export class HistoryChecker {
  readonly seed: number
  readonly violations: Violation[] = []
  /** The step violations are stamped with; the simulator moves it forward. */
  step = 0
  readonly #parliamentSize: number
  readonly #members = new Map<string, MemberHistory>()
  readonly #log = new Map<number, PositionRecord>()
  readonly #enqueued = new Map<string, string>()
  /** Submission key to the position where it was first applied. */
  readonly #applied = new Map<string, number>()
  /** Submission key to the position where its submitter saw it applied. */
  readonly #acknowledged = new Map<string, number>()
  /** Skips (`apply: false`) of submissions not yet seen applied, verified at the end. */
  readonly #unverifiedSkips: Array<{ key: string; position: number; member: string; step: number }> = []
  /** Government number to the position it was committed at. */
  readonly #governments = new Map<number, number>()
  /** `round/id` of every leading ballot seen, to the member that led with it. */
  readonly #ballots = new Map<string, string>()

  constructor(seed: number, options: CheckerOptions = {}) {
    this.seed = seed
    this.#parliamentSize = options.parliamentSize ?? Number.POSITIVE_INFINITY
  }

  get acknowledgedCount(): number {
    return this.#acknowledged.size
  }

  isAcknowledged(from: string, seq: number): boolean {
    return this.#acknowledged.has(submissionKey(from, seq))
  }

  /** The entry text committed at `position`, if any member output it. */
  entryAt(position: number): string | undefined {
    return this.#log.get(position)?.text
  }

  /**
   * The submission keys applied at positions `from` through `through`, in
   * order: what a member's application state must consist of. Undefined when
   * a position in the range was never output by anyone.
   */
  appliedBetween(from: number, through: number): string[] | undefined {
    const keys: string[] = []
    for (let position = from; position <= through; position++) {
      const record = this.#log.get(position)
      if (record === undefined) return undefined
      if (record.applies !== null) keys.push(record.applies)
    }
    return keys
  }

  report(invariant: Invariant, detail: string): void {
    this.violations.push({ seed: this.seed, step: this.step, invariant, detail })
  }

  /** A driver's `enqueue` returned ok with this `from` and `seq`. */
  recordEnqueue(member: string, from: string, seq: number, value: unknown): void {
    const key = submissionKey(from, seq)
    if (from !== member) this.report('validity', `${member} enqueued as ${key}`)
    if (this.#enqueued.has(key)) this.report('validity', `${member} got seq ${seq} twice from enqueue`)
    this.#enqueued.set(key, JSON.stringify(value))
  }

  /** A legislator output `committed`. Call in output order. */
  recordCommitted(member: string, committed: Committed): void {
    const text = textOf(committed)
    const history = this.#history(member, committed)
    if (!this.#checkPrefix(member, history, committed, text)) return
    history.last = committed.position
    history.outputs.set(committed.position, text)
    this.#checkAgreement(member, committed, text)
    this.#checkGovernmentChain(member, history, committed)
    if (committed.entry.type === 'value') this.#checkSubmission(member, committed)
  }

  #history(member: string, committed: Committed): MemberHistory {
    let history = this.#members.get(member)
    if (history === undefined) {
      history = {
        first: committed.position,
        last: committed.position - 1,
        outputs: new Map(),
        commitSeen: -1,
        governmentNumber: 0,
        offset: 0,
      }
      this.#members.set(member, history)
      const { entry } = committed
      if (entry.type !== 'government' || entry.government.arrived[member] === undefined) {
        this.report('prefix', `${member} first output ${committed.position} is not its arrival government`)
      }
    }
    return history
  }

  #checkPrefix(member: string, history: MemberHistory, committed: Committed, text: string): boolean {
    if (committed.position === history.last + 1) return true
    if (committed.position <= history.last) {
      const earlier = history.outputs.get(committed.position)
      if (earlier !== undefined && earlier !== text) {
        this.report('no-retraction', `${member} output ${committed.position} again with other content`)
      } else {
        this.report('prefix', `${member} output ${committed.position} again after ${history.last}`)
      }
    } else {
      this.report('prefix', `${member} output ${committed.position} after ${history.last}: a gap`)
    }
    return false
  }

  #checkAgreement(member: string, committed: Committed, text: string): void {
    const known = this.#log.get(committed.position)
    if (known === undefined) {
      const { entry } = committed
      const applies =
        entry.type === 'value' && committed.apply ? submissionKey(entry.submission.from, entry.submission.seq) : null
      this.#log.set(committed.position, { text, applies, promise: committed.promise, apply: committed.apply, member })
      return
    }
    if (known.text !== text) {
      this.report(
        'agreement',
        `position ${committed.position}: ${known.member} output ${clip(known.text)}, ${member} output ${clip(text)}`,
      )
    } else if (known.promise !== committed.promise) {
      this.report(
        'agreement',
        `position ${committed.position}: promise ${known.promise} at ${known.member}, ${committed.promise} at ${member}`,
      )
    } else if (known.apply !== committed.apply) {
      this.report(
        'exactly-once',
        `position ${committed.position}: apply ${known.apply} at ${known.member}, ${committed.apply} at ${member}`,
      )
    }
  }

  #checkGovernmentChain(member: string, history: MemberHistory, committed: Committed): void {
    const { entry } = committed
    if (entry.type === 'government') {
      const government = entry.government
      if (history.governmentNumber !== 0 && government.number !== history.governmentNumber + 1) {
        this.report(
          'one-government-change',
          `${member} at ${committed.position}: government ${government.number} follows ${history.governmentNumber}`,
        )
      }
      const expected = `${government.number}/0`
      if (government.promise !== expected || committed.promise !== expected) {
        this.report(
          'one-government-change',
          `${member} at ${committed.position}: government ${government.number} has promise ${government.promise}, output as ${committed.promise}`,
        )
      }
      const at = this.#governments.get(government.number)
      if (at === undefined) {
        this.#governments.set(government.number, committed.position)
        this.#checkGovernmentShape(committed.position, government)
      } else if (at !== committed.position) {
        this.report('one-government-change', `government ${government.number} committed at ${at} and ${committed.position}`)
      }
      history.governmentNumber = government.number
      history.offset = 0
      return
    }
    history.offset++
    const expected = `${history.governmentNumber}/${history.offset}`
    if (committed.promise !== expected) {
      this.report('one-government-change', `${member} at ${committed.position}: promise ${committed.promise}, expected ${expected}`)
    }
  }

  #checkGovernmentShape(position: number, government: Government): void {
    const parliament = parliamentOf(government)
    const everyone = membersOf(government)
    const problems: string[] = []
    if (parliament.length === 0 || parliament.length % 2 === 0) problems.push(`parliament of ${parliament.length}`)
    if (parliament.length > this.#parliamentSize) problems.push(`parliament of ${parliament.length} > ${this.#parliamentSize}`)
    if (new Set(everyone).size !== everyone.length) problems.push('a member listed twice')
    if (parliament.some((id) => government.exiled.includes(id))) problems.push('an exiled voter')
    if (problems.length > 0) {
      this.report('government', `government ${government.number} at ${position}: ${problems.join(', ')}`)
    }
  }

  #checkSubmission(member: string, committed: Committed): void {
    if (committed.entry.type !== 'value') return
    const { from, seq, value } = committed.entry.submission
    const key = submissionKey(from, seq)
    const enqueued = this.#enqueued.get(key)
    if (enqueued === undefined) {
      this.report('validity', `position ${committed.position}: ${key} was never enqueued`)
    } else if (enqueued !== JSON.stringify(value)) {
      this.report('validity', `position ${committed.position}: ${key} carries ${clip(JSON.stringify(value))}, enqueued ${clip(enqueued)}`)
    }
    const appliedAt = this.#applied.get(key)
    if (committed.apply) {
      if (appliedAt === undefined) {
        this.#applied.set(key, committed.position)
      } else if (appliedAt !== committed.position) {
        this.report('exactly-once', `${member} applies ${key} at ${committed.position}, already applied at ${appliedAt}`)
      }
      if (from === member && !this.#acknowledged.has(key)) this.#acknowledged.set(key, committed.position)
    } else if (appliedAt === undefined) {
      this.#unverifiedSkips.push({ key, position: committed.position, member, step: this.step })
    } else if (appliedAt > committed.position) {
      this.report('exactly-once', `${member} skips ${key} at ${committed.position}, applied only later at ${appliedAt}`)
    }
  }

  /**
   * Checks that need every live member at once: commits never go back, and a
   * ballot is led only by its own proposer and never by two members.
   */
  checkStep(members: readonly MemberView[]): void {
    for (const member of members) {
      const history = this.#members.get(member.id)
      if (history !== undefined) {
        if (member.commit < history.commitSeen) {
          this.report('no-retraction', `${member.id} commit went back from ${history.commitSeen} to ${member.commit}`)
        }
        history.commitSeen = member.commit
      }
      if (!member.isLeader) continue
      const inspection = member.inspect()
      const inFlight = governmentsInFlight(inspection)
      if (inFlight > 1) this.report('one-government-change', `${member.id} has ${inFlight} government changes in flight`)
      const ballot = leadingBallot(inspection)
      if (ballot === null) continue
      if (ballot.id !== member.id) {
        this.report('one-leader-per-ballot', `${member.id} leads with ballot ${ballot.round}/${ballot.id}`)
      }
      const key = `${ballot.round}/${ballot.id}`
      const leader = this.#ballots.get(key)
      if (leader === undefined) this.#ballots.set(key, member.id)
      else if (leader !== member.id) this.report('one-leader-per-ballot', `ballot ${key} led by ${leader} and ${member.id}`)
    }
  }

  /**
   * End-of-run checks: every skip refers to an earlier apply, and every
   * acknowledged submission is present at its position on every member in
   * `survivors` that output past that position.
   */
  checkFinal(survivors: readonly string[]): void {
    for (const skip of this.#unverifiedSkips) {
      const appliedAt = this.#applied.get(skip.key)
      if (appliedAt === undefined || appliedAt > skip.position) {
        this.violations.push({
          seed: this.seed,
          step: skip.step,
          invariant: 'exactly-once',
          detail: `${skip.member} skips ${skip.key} at ${skip.position}, never applied before it`,
        })
      }
    }
    this.#unverifiedSkips.length = 0
    for (const [key, position] of this.#acknowledged) {
      const expected = this.#log.get(position)?.text
      for (const id of survivors) {
        const history = this.#members.get(id)
        if (history === undefined || history.last < position || history.first > position) continue
        const text = history.outputs.get(position)
        if (text !== expected) this.report('acknowledged-lost', `${id} lacks ${key} at ${position}`)
      }
    }
  }
}

function clip(text: string): string {
  return text.length > 160 ? `${text.slice(0, 157)}...` : text
}
