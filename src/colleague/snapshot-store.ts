// Snapshots a leader took for newcomers, kept until each newcomer has
// fetched its own, or until the store overflows (oldest arrival first).

import { ColleagueError } from './errors.js'
import { encodeValue } from './value-text.js'

export const SNAPSHOTS_MAX = 16

interface Snapshot {
  /** A deep JSON copy: the application may keep mutating the object it returned. */
  readonly state: unknown
  readonly waiting: Set<string>
}

/**
 * The JSON text of what `snapshot()` returned, under the one rule for every
 * snapshot a member hands on or writes: a state JSON cannot carry exactly
 * (a NaN, an undefined in an array, a cycle, a bigint, a function, a Map) is
 * refused with APPLICATION_FAILED, as a value is by `enqueue`, since whoever
 * restores it would otherwise restore a state other than the one taken.
 * `undefined` alone (no snapshot to give) is `null`.
 */
export function stateText(state: unknown): string {
  if (state === undefined) return 'null'
  try {
    return encodeValue(state, Number.POSITIVE_INFINITY)
  } catch (error) {
    throw new ColleagueError('APPLICATION_FAILED', `snapshot() returned a state JSON cannot carry: ${(error as Error).message}`, { cause: error })
  }
}

export class SnapshotStore {
  private readonly max: number
  /** Arrival promise to the snapshot taken right after applying it. */
  private readonly snapshots = new Map<string, Snapshot>()

  constructor(max = SNAPSHOTS_MAX) {
    this.max = max
  }

  get size(): number {
    return this.snapshots.size
  }

  /** Keeps a deep copy of `state` for `newcomers`, parsed from its `stateText` (which may refuse it). */
  keep(arrival: string, newcomers: readonly string[], state: unknown): void {
    this.snapshots.set(arrival, { state: JSON.parse(stateText(state)) as unknown, waiting: new Set(newcomers) })
    for (const oldest of this.snapshots.keys()) {
      if (this.snapshots.size <= this.max) break
      this.snapshots.delete(oldest)
    }
  }

  /** The snapshot for `newcomer` at `arrival`, once; undefined if none is kept. */
  take(arrival: string, newcomer: string): { state: unknown } | undefined {
    const snapshot = this.snapshots.get(arrival)
    if (snapshot === undefined || !snapshot.waiting.has(newcomer)) return undefined
    snapshot.waiting.delete(newcomer)
    if (snapshot.waiting.size === 0) this.snapshots.delete(arrival)
    return { state: snapshot.state }
  }

  /** Drops what is kept for newcomers no longer in the island. */
  forgetExcept(members: ReadonlySet<string>): void {
    for (const [arrival, snapshot] of this.snapshots) {
      for (const id of snapshot.waiting) if (!members.has(id)) snapshot.waiting.delete(id)
      if (snapshot.waiting.size === 0) this.snapshots.delete(arrival)
    }
  }
}
