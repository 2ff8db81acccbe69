// What an acceptor remembers: the ballot it promised and the entries it
// accepted, by position, with the commit point (everything at or below it is
// chosen and was output in order) and the trim point (everything at or below
// it is forgotten). The assertions here state what Paxos relies on; a failure
// is a bug in the core, never bad input, and is never caught.

import { BALLOT_ZERO, compareBallot } from './ballot.js'
import type { Rules } from './mutants.js'
import type { Accepted, Ballot, LogEntry } from './types.js'

/** A log position as this member holds it; also handed out, as is, to be persisted. */
export interface Slot extends Accepted {
  chosen: boolean
}

/** What changed in the log since it was last taken: what a durable mode must write before sending. */
export interface LogChanges {
  readonly promised: Ballot | null
  readonly accepted: readonly Slot[]
}

/** What `takeChanges` returns when nothing changed: one frozen object, so that an idle member allocates nothing for it. */
export const NO_CHANGES: LogChanges = Object.freeze({ promised: null, accepted: Object.freeze([]) })

export class Log {
  readonly #rules: Rules
  readonly #slots = new Map<number, Slot>()
  #end = -1
  #commit = -1
  #trim = -1
  /** The snapshot position a restart resumed from: the retained entries at or below it are not promised on. */
  #resumedAt = -1
  #promised: Ballot = BALLOT_ZERO
  #changedPromised: Ballot | null = null
  #changedAccepted: Slot[] = []

  constructor(rules: Rules) {
    this.#rules = rules
  }

  /** The highest ballot promised: no accept or prepare below it is taken. */
  get promised(): Ballot {
    return this.#promised
  }

  promise(ballot: Ballot): void {
    assert(compareBallot(ballot, this.#promised) >= 0, 'a promise only grows')
    this.#promised = ballot
    this.#changedPromised = ballot
  }

  /**
   * Durable mode, after a restart: the log as a snapshot at `position` left
   * it, with the entries accepted after it (those up to `commit` known
   * chosen), the chosen entries `retained` just below it, and the promise.
   * Nothing of it counts as a change to persist.
   */
  restore(position: number, promised: Ballot | null, accepted: readonly Accepted[], commit: number, retained: readonly Accepted[]): void {
    assert(this.#commit === -1 && this.#slots.size === 0, 'only an empty log is restored')
    this.#commit = position
    this.#end = position
    // Chosen and output before the snapshot was taken: held, and trimmed as any chosen entry is.
    for (let index = 0; index < retained.length; index++) {
      const item = retained[index] as Accepted
      assert(item.position === position - retained.length + 1 + index, 'retained entries run unbroken up to the snapshot')
      this.#slots.set(item.position, { position: item.position, ballot: item.ballot, entry: item.entry, chosen: true })
    }
    this.#trim = position - retained.length
    this.#resumedAt = position
    if (promised !== null) this.#promised = promised
    for (const item of accepted) {
      if (item.position <= position) continue
      this.#slots.set(item.position, { position: item.position, ballot: item.ballot, entry: item.entry, chosen: item.position <= commit })
      if (item.position > this.#end) this.#end = item.position
    }
  }

  /** A newcomer's log starts at its arrival government, at `position`. */
  arrive(position: number): void {
    assert(this.#commit === -1 && this.#slots.size === 0, 'only an empty log arrives')
    this.#setCommit(position - 1)
    this.#trim = position - 1
  }

  get(position: number): Slot | undefined {
    return this.#slots.get(position)
  }

  /** Slots held, for inspection. */
  get size(): number {
    return this.#slots.size
  }

  /** Accepted entries past the commit point, newest first. */
  *uncommitted(): Generator<Slot> {
    for (let position = this.#end; position > this.#commit; position--) {
      const slot = this.#slots.get(position)
      if (slot !== undefined) yield slot
    }
  }

  /**
   * Accepts `entry` at `position` under `ballot`. A slot known chosen keeps
   * what it holds; returns false when `entry` differs from it (a divergent
   * peer: refused, as bad input is).
   */
  store(position: number, ballot: Ballot, entry: LogEntry, chosen: boolean): boolean {
    const slot = this.#slots.get(position)
    if (slot !== undefined && slot.chosen) return sameEntry(slot.entry, entry)
    // Chosen, output and forgotten: a leader re-proposing after its own round chose it.
    if (position <= this.#trim) return true
    assert(position > this.#commit, 'every output position holds a chosen slot until trimmed')
    const stored: Slot = { position, ballot, entry, chosen }
    this.#slots.set(position, stored)
    if (position > this.#end) this.#end = position
    this.#changedAccepted.push(stored)
    return true
  }

  /** This member's own proposal: at a position it knows chosen, it proposes what was chosen there. */
  propose(position: number, ballot: Ballot, entry: LogEntry): void {
    assert(this.store(position, ballot, entry, false), 'a chosen slot never changes')
  }

  markChosen(from: number, to: number): void {
    for (let position = from; position <= to; position++) {
      const slot = this.#slots.get(position)
      if (slot !== undefined) slot.chosen = true
    }
  }

  /** The `drop-accepted-on-step-down` mutant: forget what is not known chosen. */
  forgetUnchosen(): void {
    for (let position = this.#commit + 1; position <= this.#end; position++) {
      const slot = this.#slots.get(position)
      if (slot !== undefined && !slot.chosen) this.#slots.delete(position)
    }
  }

  acceptedFrom(from: number): Accepted[] {
    return this.acceptedRange(from, this.#end)
  }

  acceptedRange(from: number, to: number): Accepted[] {
    const accepted: Accepted[] = []
    for (let position = from; position <= to; position++) {
      const slot = this.#slots.get(position)
      if (slot !== undefined) accepted.push({ position, ballot: slot.ballot, entry: slot.entry })
    }
    return accepted
  }

  /** Highest position chosen and output, gap free; -1 before any. */
  get commit(): number {
    return this.#commit
  }

  /**
   * Moves the commit point, strictly in position order, over every entry
   * known chosen: marked chosen, or accepted under `ballot` at or below that
   * leader's `commit`. `output` is called for each with the commit point
   * already on it; it returns false to stop (this member was exiled).
   */
  advance(commit: number, ballot: Ballot, output: (position: number, entry: LogEntry) => boolean): void {
    for (let position = this.#commit + 1; position <= this.#end; position++) {
      const slot = this.#slots.get(position)
      const chosen =
        slot !== undefined && (slot.chosen || (position <= commit && this.#rules.compare(slot.ballot, ballot) === 0))
      if (!chosen) {
        if (this.#rules.skipsGaps && position <= commit) continue
        break
      }
      slot.chosen = true
      this.#setCommit(position)
      if (!output(position, slot.entry)) return
    }
  }

  /** Positions at or below it are forgotten; never past `commit`. */
  get trim(): number {
    return this.#trim
  }

  /**
   * Positions at or below it are left out of a promise, which answers for
   * those after it only: the trim point, or the snapshot a restart resumed
   * from while the entries retained below it are still held. A promise
   * carries every entry held from the candidate's first position in one
   * message, and the retained interval would double the largest one (to a
   * candidate far behind, which whoever wins catches up from those entries).
   */
  get promisedFrom(): number {
    return Math.max(this.#trim, this.#resumedAt) + 1
  }

  /** Forgets positions up to `trim`; a lower `trim` changes nothing. */
  trimTo(trim: number): void {
    if (trim <= this.#trim) return
    assert(trim <= this.#commit, 'trim never passes commit')
    for (let position = this.#trim + 1; position <= trim; position++) this.#slots.delete(position)
    this.#trim = trim
  }

  /** What changed since the last call, and forget it; `NO_CHANGES` itself when nothing did. */
  takeChanges(): LogChanges {
    if (this.#changedPromised === null && this.#changedAccepted.length === 0) return NO_CHANGES
    const changes: LogChanges = { promised: this.#changedPromised, accepted: this.#changedAccepted }
    this.#changedPromised = null
    this.#changedAccepted = []
    return changes
  }

  #setCommit(position: number): void {
    assert(position >= this.#commit, 'commit only grows')
    this.#commit = position
  }
}

/** Entries are JSON; a chosen one arrives again only from a leader that re-proposes it as it is. */
function sameEntry(a: LogEntry, b: LogEntry): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b)
}

/** Our own invariants: a failure is a bug in the core, never bad input. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`legislator invariant violated: ${message}`)
}
