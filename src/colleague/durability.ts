// Durable mode for one colleague: what it writes to its storage directory and
// when. Each flush of the kibitzer persists the legislator's `Ready.persist`
// (its promise and accepted entries), the commit point and the submitter seqs
// handed out, before the flush sends anything. As entries are applied it
// follows the government and submitter ledger at the applied position, so
// that at every multiple of `snapshotEveryEntries` it can write the application's
// snapshot together with what a restart needs to resume from it.

import { SubmitterLedger } from '../paxos/submitters.js'
import type { Committed, Government, LegislatorRestore, Ready } from '../paxos/types.js'
import { DurableStore, type OpenReport, type RecoveredState, type StorageIdentity, type StorageMutant } from '../storage/durable-store.js'
import type { StorageFileSystem } from '../storage/file-system.js'
import { ColleagueError } from './errors.js'
import type { Application } from './options.js'
import { stateText } from './snapshot-store.js'

export const SNAPSHOT_EVERY_ENTRIES = 50_000
/** A durable member is expected back after a restart: exile it only after this much silence. */
export const DURABLE_EXILE_MS = 30_000

export interface StorageOptions {
  /** The member's own directory, created when absent. One member per directory. */
  readonly directory: string
  /** Positions between snapshots of the application, taken at its multiples on every member; default 50 000. */
  readonly snapshotEveryEntries?: number
  /**
   * Silence after which the leader exiles a member; default 30 000 (in
   * memory mode it is 2 x timeoutMs). A whole-island restart brings members
   * back at different times; none should be exiled for being slow to start.
   */
  readonly exileMs?: number
  /** Test seam: the simulator's disk. Default the real file system (node:fs). */
  readonly fileSystem?: StorageFileSystem
  /** Test switch only: deliberately broken storage. */
  readonly mutant?: StorageMutant
}

/** What the legislator exposes for a flush to be persisted. */
export interface PersistSource {
  readonly commit: number
  /** Highest submitter seq handed out. */
  readonly submitted: number
  readonly government: Government | null
}

export class Durability {
  readonly store: DurableStore
  #recovered: RecoveredState | null
  readonly report: OpenReport
  readonly #islandName: string
  #colleagueId: string
  readonly #every: number
  #ledger = new SubmitterLedger()
  #government: Government | null = null
  #governmentPosition = -1
  #applied = -1

  constructor(options: StorageOptions, who: { readonly islandName: string; readonly colleagueId?: string }) {
    const opened = DurableStore.open(
      {
        directory: options.directory,
        // One interval of chosen entries below the snapshot: when an island
        // stopped whole starts again, a member whose log ended before the
        // latest multiple finds them on the members that snapshotted there.
        retainEntries: options.snapshotEveryEntries ?? SNAPSHOT_EVERY_ENTRIES,
        ...(options.fileSystem !== undefined && { fileSystem: options.fileSystem }),
        ...(options.mutant !== undefined && { mutant: options.mutant }),
      },
      who,
    )
    this.store = opened.store
    this.#recovered = opened.recovered
    this.report = opened.report
    this.#islandName = who.islandName
    this.#every = options.snapshotEveryEntries ?? SNAPSHOT_EVERY_ENTRIES
    const snapshot = this.recovered?.snapshot ?? null
    this.#colleagueId = snapshot?.identity.colleagueId ?? who.colleagueId ?? ''
    if (snapshot !== null) {
      this.#ledger = SubmitterLedger.fromTable(snapshot.submitters)
      this.#government = snapshot.government
      this.#governmentPosition = snapshot.governmentPosition
      this.#applied = snapshot.position
    }
  }

  /**
   * What the legislator resumes from. The entries go to the legislator's own
   * log: this copy is let go (a restart may replay millions of them).
   */
  takeLegislatorRestore(): LegislatorRestore | null {
    const recovered = this.#recovered
    if (recovered === null) return null
    this.#recovered = { ...recovered, accepted: [], retained: [] }
    return restoreOf(recovered)
  }

  /** The application state of the stored snapshot, handed over once: after its restore, no second copy is kept. */
  takeSnapshotState(): unknown {
    const recovered = this.#recovered
    if (recovered === null) return null
    this.#recovered = { ...recovered, snapshot: { ...recovered.snapshot, state: null } }
    return recovered.snapshot.state
  }

  /** Where a recovered member resumes: its snapshot's position, government and identity, and the commit point after it. */
  resumePoint(): { commit: number; position: number; government: Government; identity: StorageIdentity } {
    const recovered = this.#recovered
    if (recovered === null) throw new ColleagueError('INTERNAL', 'resume without a recovered member')
    const { position, government, identity } = recovered.snapshot
    return { commit: recovered.commit, position, government, identity }
  }

  /** What the directory held at start; the snapshot's state and the log are let go once handed over. */
  get recovered(): RecoveredState | null {
    return this.#recovered
  }

  /** The colleagueId the directory belongs to, when it holds a member. */
  get colleagueId(): string | null {
    return this.recovered?.snapshot.identity.colleagueId ?? null
  }

  /** Names the colleague a fresh directory will belong to. */
  assign(colleagueId: string): void {
    if (this.recovered !== null && colleagueId !== this.#colleagueId) throw new Error('a recovered member keeps its id')
    this.#colleagueId = colleagueId
  }

  /** The kibitzer's persist step: one write, and one sync when a peer may rely on it. */
  persist(ready: Ready, source: PersistSource): void {
    const { promised, accepted } = ready.persist
    if (this.store.identity === null) {
      if (promised === null && accepted.length === 0) return
      const islandId = source.government?.islandId ?? firstIslandId(ready)
      if (islandId === null) return
      this.store.begin({ islandName: this.#islandName, islandId, colleagueId: this.#colleagueId })
    }
    // A government chosen in this flush may exile members, which then let go of
    // their directories once its messages tell them: its commit is synced first.
    const syncCommit = ready.committed.some((committed) => committed.entry.type === 'government')
    this.store.persist({ promised, accepted, commit: source.commit, seq: source.submitted, syncCommit })
  }

  /**
   * Follows one applied entry. Returns true when a snapshot is due: the
   * caller takes the application's snapshot now, before the next entry.
   */
  applied(committed: Committed): boolean {
    const entry = committed.entry
    if (entry.type === 'government') {
      this.#government = entry.government
      this.#governmentPosition = committed.position
      this.#ledger = SubmitterLedger.fromTable(entry.government.submitters)
    } else if (entry.type === 'value') {
      this.#ledger.record(entry.submission.from, entry.submission.seq, entry.submission.floor)
    }
    this.#applied = committed.position
    // At the same positions on every member (the multiples of `every`): a
    // member resumes with its log trimmed at its snapshot, and as leader it
    // exiles a member whose log ends below that, which none could then serve.
    // Snapshots every `every` entries from wherever each member began would
    // leave the members of an island stopped whole trimmed at different
    // positions, some past where the others' logs end.
    return Math.floor(this.#applied / this.#every) > Math.floor(this.store.snapshotPosition / this.#every)
  }

  /**
   * Writes the application's state as of the last applied entry. Its bytes
   * reach the disk off the event loop: the member keeps answering its peers
   * and persisting meanwhile, and entries are applied again once it is
   * durable. Nothing is taken while an earlier snapshot is still being written.
   */
  async snapshot(application: Application, arrival: string | null): Promise<void> {
    const government = this.#government
    if (government === null || this.store.identity === null || this.store.snapshotting) return
    const position = this.#applied
    const taken = application.snapshot === undefined ? undefined : await application.snapshot()
    // Checked as a newcomer's snapshot is: a restart restores exactly the state taken, or the member crashes now, loudly.
    stateText(taken)
    // Serialized at once by the store (no copy needed): the state is the one at `position`.
    await this.store.writeSnapshotAsync({
      position,
      government,
      governmentPosition: this.#governmentPosition,
      submitters: this.#ledger.toTable(),
      arrival,
      state: taken === undefined ? null : taken,
    })
  }

  close(): void {
    this.store.close()
  }
}

function firstIslandId(ready: Ready): string | null {
  for (const item of ready.persist.accepted) if (item.entry.type === 'government') return item.entry.government.islandId
  return null
}

/** What the legislator resumes from. */
export function restoreOf(recovered: RecoveredState): LegislatorRestore {
  const { snapshot } = recovered
  return {
    promised: recovered.promised,
    position: snapshot.position,
    government: snapshot.government,
    governmentPosition: snapshot.governmentPosition,
    submitters: snapshot.submitters,
    arrival: snapshot.arrival,
    accepted: recovered.accepted,
    retained: recovered.retained,
    commit: recovered.commit,
    seq: recovered.seq,
  }
}
