// A member's storage directory: the write-ahead log of what Paxos must
// remember (promises, accepted entries, the commit point, reserved submitter
// seqs) and the newest snapshot of the application.
//
//   snapshot-<position>.snap   one record: identity, the position it covers,
//                              the government and submitter ledger there, and
//                              the application's state. Written to a .tmp
//                              file, synced, renamed, directory synced.
//   wal-<index>.log            log segments. Each begins with a header record
//                              (identity; the promise, commit and seq as of its
//                              creation; the oldest segment the log still
//                              needs, the index and final size of the one
//                              before it, and the newest snapshot's position
//                              once there is one), then one record per flush.
//   RETIRED                    the member is gone for good (exiled, or left):
//                              the directory holds no member, and the next
//                              start removes what is left.
//   LOCK                       the process using the directory (see
//                              file-system.ts): a second one refuses to start.
//
// A flush is one record, one write and (when it holds something a peer may
// rely on) one fdatasync: group commit. A segment holding only positions at or
// below the newest snapshot less `retainEntries` is deleted once that snapshot
// is durable: a restarted member still holds that many chosen entries below
// its snapshot, for a peer whose log ends there. Segments go oldest first, so
// the log is always one unbroken chain of segments: a restart that finds a
// link missing, cut short or emptied refuses to start (STORAGE_CORRUPT)
// rather than resume without what a peer may count on.

import { isAscii } from 'node:buffer'
import { ColleagueError } from '../colleague/errors.js'
import { isBallot } from '../paxos/ballot.js'
import type { Accepted, Ballot, Government, LogEntry, SubmitterTable } from '../paxos/types.js'
import { decodeFlushPayload, encodeFlushRecord, FlushFormatError, type FlushContents } from './flush-codec.js'
import { nodeFileSystem, pathIn, type AppendFile, type StorageFileSystem } from './file-system.js'
import {
  decodeRecords,
  encodeJsonRecord,
  RECORD_HEADER_BYTES,
  SCAN_CHUNK_BYTES,
  scanBuffer,
  scanRecords,
  type RecordSource,
  type ScanBuffer,
  type ScanResult,
} from './records.js'

export const STORAGE_FORMAT = 1
/** Seqs reserved per record: a restarted member never reuses a seq a peer may hold. */
export const SEQ_RESERVE = 1024
/** A segment past this size is closed and a new one begun at the next flush. */
export const SEGMENT_BYTES_MAX = 64 * 1024 * 1024

/** Who a storage directory belongs to. */
export interface StorageIdentity {
  readonly islandName: string
  readonly islandId: string
  readonly colleagueId: string
}

/** The newest snapshot: the application's state after applying `position`. */
export interface StoredSnapshot {
  readonly format: number
  readonly identity: StorageIdentity
  readonly position: number
  /** The latest government applied at or before `position`, and where it is. */
  readonly government: Government
  readonly governmentPosition: number
  /** The submitter ledger after applying `position`. */
  readonly submitters: SubmitterTable
  /** Promise of the government that admitted this member. */
  readonly arrival: string | null
  readonly state: unknown
  /**
   * The newest log segment when the snapshot was taken: the log a restart
   * finds must reach at least that far (absent in directories written before
   * it was recorded).
   */
  readonly segment?: number
}

/** What the colleague hands `writeSnapshot`: the store adds the rest. */
export type SnapshotInput = Omit<StoredSnapshot, 'format' | 'identity' | 'segment'>

/** What a member finds in its directory at start. */
export interface RecoveredState {
  readonly snapshot: StoredSnapshot
  readonly promised: Ballot | null
  /** Entries accepted above the snapshot, in position order (the last record of a position wins). */
  readonly accepted: readonly Accepted[]
  /**
   * The chosen entries the log still holds just below the snapshot, in
   * position order: an unbroken run ending at its position, at most
   * `retainEntries` long (empty when the log holds no record of the snapshot's
   * own position). Already in the snapshot's state: never applied again.
   */
  readonly retained: readonly Accepted[]
  /** Highest position known chosen (at least the snapshot's). */
  readonly commit: number
  /** Submitter seqs up to this one may have been used: a restart continues above it. */
  readonly seq: number
}

export interface OpenReport {
  /** Bytes cut from the end of the newest segment (a write torn by a crash). */
  readonly tornBytes: number
  /** Log segments removed because no snapshot was ever written with them (a join that never completed). */
  readonly orphanSegments: number
}

/** What one flush asks to be made durable. */
export interface PersistInput {
  readonly promised: Ballot | null
  readonly accepted: readonly { readonly position: number; readonly ballot: Ballot; readonly entry: LogEntry }[]
  readonly commit: number
  /** The highest submitter seq handed out so far. */
  readonly seq: number
  /**
   * The commit point must be durable before this flush's messages leave (not
   * only written): they may tell members that a government is chosen which
   * exiles them, and an exile lets go of its directory, so that afterwards
   * this member's record may be the only one left. Default false.
   */
  readonly syncCommit?: boolean
}

/**
 * Test switches: deliberately broken storage, used only to prove the tests notice.
 * - `ack-before-sync`: a flush's record is synced only at the next flush, after its messages left.
 * - `no-directory-sync`: the directory is never synced after a file is created, renamed or removed.
 * - `replay-torn-record`: a torn last record is read as if it were whole, not cut.
 */
export const STORAGE_MUTANTS = ['ack-before-sync', 'no-directory-sync', 'replay-torn-record'] as const
export type StorageMutant = (typeof STORAGE_MUTANTS)[number]

export interface DurableStoreOptions {
  readonly directory: string
  readonly fileSystem?: StorageFileSystem
  readonly segmentBytesMax?: number
  /**
   * Entries below the newest snapshot whose log records are kept, and read
   * back at a restart (default 0): the colleague keeps one snapshot interval.
   */
  readonly retainEntries?: number
  readonly mutant?: StorageMutant
}

interface SegmentHeader {
  readonly kind: 'segment'
  readonly format: number
  readonly identity: StorageIdentity
  readonly promised: Ballot | null
  readonly commit: number
  readonly seq: number
  /** The oldest segment the log needs from this one's creation on; older ones are deleted or about to be. */
  readonly first?: number
  /** The segment this one follows, and its size when this one was begun (it never grows after). */
  readonly previous?: { readonly index: number; readonly bytes: number }
  /**
   * The position of the member's newest durable snapshot when this segment
   * was begun; absent before its first. A log that names one is never that
   * of a join that did not complete, whatever became of the snapshot file.
   */
  readonly snapshot?: number
}

/** A flush record as read back (binary, or JSON as `{ kind: 'flush', accepted: [[position, ballot, entry]] }`). */
interface FlushRecord extends FlushContents {
  readonly kind: 'flush'
}

interface JsonFlushRecord {
  readonly kind: 'flush'
  readonly promised?: Ballot
  /** [position, ballot, entry] */
  readonly accepted?: readonly (readonly [number, Ballot, LogEntry])[]
  readonly commit?: number
  readonly seq?: number
}

interface Segment {
  readonly index: number
  readonly name: string
  /** Highest position accepted in it; -1 when none. */
  maxPosition: number
}

/** A segment as a restart reads it. */
interface ReadSegment extends Segment {
  /** Null when the crash took even its header (only the newest may be so). */
  header: SegmentHeader | null
  /** Its size once a torn tail is cut. */
  bytes: number
}

const SEGMENT = /^wal-(\d{16})\.log$/
const SNAPSHOT = /^snapshot-(\d{16})\.snap$/
const TEMPORARY = /\.tmp$/
/** Written (synced) before the snapshots of a member gone for good go: what is left is no member's, not a lost snapshot's log. */
const RETIRED = 'RETIRED'

export class DurableStore {
  readonly directory: string
  readonly #fs: StorageFileSystem
  readonly #segmentBytesMax: number
  readonly #retainEntries: number
  readonly #mutant: StorageMutant | null
  #identity: StorageIdentity | null = null
  #segments: Segment[] = []
  #file: AppendFile | null = null
  #fileBytes = 0
  #promised: Ballot | null = null
  #commit = -1
  #seqReserved = 0
  #snapshotPosition = -1
  #closed = false
  /** `retire()` was called: a snapshot still being written is abandoned. */
  #retired = false
  #snapshotting = false
  /** Lets go of the directory's lock; null when the file system has none or it is let go. */
  #unlock: (() => void) | null = null
  /** The `ack-before-sync` mutant: a write not yet synced. */
  #unsynced = false
  /** Flushes and syncs, for the colleague's statistics. */
  #stats = { flushes: 0, syncs: 0, bytes: 0, snapshots: 0 }

  private constructor(options: DurableStoreOptions) {
    this.directory = options.directory
    this.#fs = options.fileSystem ?? nodeFileSystem
    this.#segmentBytesMax = options.segmentBytesMax ?? SEGMENT_BYTES_MAX
    this.#retainEntries = options.retainEntries ?? 0
    this.#mutant = options.mutant ?? null
  }

  /**
   * Opens (creating when absent) a storage directory and reads what it holds.
   * `recovered` is null when it holds no member. Throws STORAGE_CORRUPT for
   * damage other than a torn tail; `expect` names who the caller is (any
   * field it gives must match, else STORAGE_MISMATCH).
   */
  static open(
    options: DurableStoreOptions,
    expect: { readonly islandName: string; readonly colleagueId?: string },
  ): { store: DurableStore; recovered: RecoveredState | null; report: OpenReport } {
    const store = new DurableStore(options)
    try {
      const { recovered, report } = store.#recover(expect)
      return { store, recovered, report }
    } catch (error) {
      store.close()
      throw error
    }
  }

  get identity(): StorageIdentity | null {
    return this.#identity
  }

  /** The highest submitter seq a synced record reserves: seqs up to it are never handed out again after a restart. */
  get seqReserved(): number {
    return this.#seqReserved
  }

  get snapshotPosition(): number {
    return this.#snapshotPosition
  }

  get statistics(): { flushes: number; syncs: number; bytes: number; snapshots: number; segments: number } {
    return { ...this.#stats, segments: this.#segments.length }
  }

  /** Names the member this directory now belongs to, before its first flush. */
  begin(identity: StorageIdentity): void {
    this.#assertOpen()
    if (this.#identity !== null) {
      if (!sameIdentity(this.#identity, identity)) throw mismatch(`the directory belongs to ${describe(this.#identity)}`)
      return
    }
    this.#identity = identity
    this.#roll()
  }

  /**
   * Writes one flush. Returns true when it was synced: anything a peer may
   * rely on (a promise, an accepted entry, a seq reservation) is durable
   * before this returns. A commit point alone is written without a sync:
   * losing it loses nothing a peer relies on.
   */
  persist(input: PersistInput): boolean {
    this.#assertOpen()
    if (this.#identity === null) throw new ColleagueError('INTERNAL', 'persist before the storage knows its member')
    // Before anything is noted against the current segment: the record goes to the new one.
    if (this.#fileBytes >= this.#segmentBytesMax) this.#roll()
    let record: { -readonly [K in keyof FlushContents]: FlushContents[K] } | null = null
    let sync = false
    if (input.promised !== null) {
      record = { promised: input.promised }
      this.#promised = input.promised
      sync = true
    }
    if (input.accepted.length > 0) {
      record ??= {}
      let max = -1
      for (const item of input.accepted) if (item.position > max) max = item.position
      record.accepted = input.accepted
      const segment = this.#segments.at(-1) as Segment
      if (max > segment.maxPosition) segment.maxPosition = max
      sync = true
    }
    if (input.seq > this.#seqReserved) {
      record ??= {}
      this.#seqReserved = input.seq + SEQ_RESERVE
      record.seq = this.#seqReserved
      sync = true
    }
    if (input.commit > this.#commit) {
      record ??= {}
      record.commit = input.commit
      this.#commit = input.commit
      if (input.syncCommit === true) sync = true
    }
    if (record === null) return false
    const bytes = encodeFlushRecord(record)
    const file = this.#file as AppendFile
    if (this.#mutant === 'ack-before-sync') {
      // Syncs the previous flush now, and leaves this one for the next.
      if (this.#unsynced) this.#guard('sync the log', () => file.datasync())
      this.#guard('write the log', () => file.append(bytes))
      this.#fileBytes += bytes.length
      this.#unsynced = sync
      return sync
    }
    this.#guard('write the log', () => file.append(bytes))
    this.#fileBytes += bytes.length
    this.#stats.flushes++
    this.#stats.bytes += bytes.length
    if (!sync) return false
    this.#guard('sync the log', () => file.datasync())
    this.#stats.syncs++
    return true
  }

  /**
   * Makes `snapshot` the member's newest snapshot, atomically, then starts a
   * new log segment and deletes the segments and snapshot it replaces.
   */
  writeSnapshot(snapshot: SnapshotInput): void {
    const bytes = this.#encodeSnapshot(snapshot)
    if (bytes === null) return
    const path = pathIn(this.directory, snapshotName(snapshot.position))
    this.#guard('write a snapshot', () => {
      this.#fs.writeSynced(`${path}.tmp`, bytes)
      this.#fs.rename(`${path}.tmp`, path)
      this.#syncDirectory()
    })
    this.#replaceBy(snapshot.position)
  }

  /**
   * `writeSnapshot` with the file written and synced off the event loop
   * (when the file system can): the state is serialized now, and the member
   * goes on persisting flushes while its bytes reach the disk. Only then is
   * it renamed into place, the directory synced, and what it replaces
   * deleted. One at a time: while one is being written (`snapshotting`),
   * another is not started. A store closed or retired meanwhile leaves no
   * snapshot behind.
   */
  async writeSnapshotAsync(snapshot: SnapshotInput): Promise<void> {
    const write = this.#fs.writeSyncedAsync
    if (write === undefined) return this.writeSnapshot(snapshot)
    if (this.#snapshotting) return
    const bytes = this.#encodeSnapshot(snapshot)
    if (bytes === null) return
    const path = pathIn(this.directory, snapshotName(snapshot.position))
    this.#snapshotting = true
    try {
      await write.call(this.#fs, `${path}.tmp`, bytes)
    } catch (error) {
      throw new ColleagueError('STORAGE_FAILED', `could not write a snapshot in ${this.directory}`, { cause: error })
    } finally {
      this.#snapshotting = false
    }
    if (this.#closed || this.#retired || snapshot.position <= this.#snapshotPosition) {
      this.#guard('remove an abandoned snapshot', () => this.#fs.remove(`${path}.tmp`))
      return
    }
    this.#guard('write a snapshot', () => {
      this.#fs.rename(`${path}.tmp`, path)
      this.#syncDirectory()
    })
    this.#replaceBy(snapshot.position)
  }

  /** A snapshot is being written by `writeSnapshotAsync`. */
  get snapshotting(): boolean {
    return this.#snapshotting
  }

  /** The record of a snapshot at its position, or null when one as new is already durable. */
  #encodeSnapshot(snapshot: SnapshotInput): Uint8Array | null {
    this.#assertOpen()
    const identity = this.#identity
    if (identity === null) throw new ColleagueError('INTERNAL', 'snapshot before the storage knows its member')
    if (snapshot.position <= this.#snapshotPosition) return null
    const segment = (this.#segments.at(-1) as Segment).index
    const stored: StoredSnapshot = { format: STORAGE_FORMAT, identity, ...snapshot, segment }
    try {
      return encodeJsonRecord(stored)
    } catch (error) {
      // JSON text past V8's longest string, or a record past the format's size.
      throw new ColleagueError('STORAGE_FAILED', `could not write a snapshot at position ${snapshot.position}: ${(error as Error).message}`, {
        cause: error,
      })
    }
  }

  /** Once the snapshot at `position` is durable under its name: a new segment, and what it replaces deleted. */
  #replaceBy(position: number): void {
    const previous = this.#snapshotPosition
    this.#snapshotPosition = position
    this.#stats.snapshots++
    // Oldest first, and only while nothing in them is needed: the segments
    // kept stay one unbroken chain. The new segment's header names the first
    // of them before any is deleted, so a restart after a crash in between
    // knows the rest for leftovers.
    const needed = position - this.#retainEntries
    let gone = 0
    while (gone < this.#segments.length && (this.#segments[gone] as Segment).maxPosition <= needed) gone++
    // The first segment kept; when every one goes, the one about to begin.
    const first = gone < this.#segments.length ? (this.#segments[gone] as Segment).index : (this.#segments.at(-1) as Segment).index + 1
    // Segments written from here on hold only what follows.
    this.#roll(first)
    this.#guard('delete what the snapshot replaces', () => {
      if (previous >= 0) this.#fs.remove(pathIn(this.directory, snapshotName(previous)))
      for (const segment of this.#segments.splice(0, gone)) this.#fs.remove(pathIn(this.directory, segment.name))
      this.#syncDirectory()
    })
  }

  /**
   * For a member that was exiled: removes its snapshots, so that the
   * directory no longer holds a member and the next start begins as a
   * newcomer (the log left behind is removed then).
   */
  retire(): void {
    this.#guard('retire the storage directory', () => {
      this.#fs.writeSynced(pathIn(this.directory, RETIRED), new TextEncoder().encode('exiled\n'))
      this.#fs.syncDirectory(this.directory)
      for (const name of this.#fs.list(this.directory)) {
        if (SNAPSHOT.test(name)) this.#fs.remove(pathIn(this.directory, name))
      }
      this.#fs.syncDirectory(this.directory)
    })
    this.#snapshotPosition = -1
    this.#retired = true
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    const file = this.#file
    this.#file = null
    if (file !== null) {
      try {
        file.close()
      } catch {
        // Closing loses nothing: everything that mattered was synced.
      }
    }
    const unlock = this.#unlock
    this.#unlock = null
    try {
      unlock?.()
    } catch {
      // A lock left behind is taken over at the next start: its process is gone.
    }
  }

  // ------------------------------------------------------------------ opening

  #recover(expect: { readonly islandName: string; readonly colleagueId?: string }): {
    recovered: RecoveredState | null
    report: OpenReport
  } {
    this.#guard('open the storage directory', () => this.#fs.makeDirectory(this.directory))
    const lock = this.#fs.lock
    if (lock !== undefined) this.#unlock = this.#guard('lock the storage directory', () => lock.call(this.#fs, this.directory))
    const names = this.#guard('list the storage directory', () => this.#fs.list(this.directory))
    this.#guard('remove unfinished files', () => {
      for (const name of names) if (TEMPORARY.test(name)) this.#fs.remove(pathIn(this.directory, name))
    })
    const snapshots = names.filter((name) => SNAPSHOT.test(name)).sort()
    const segmentNames = names.filter((name) => SEGMENT.test(name)).sort()
    const newest = snapshots.at(-1)
    const retired = names.includes(RETIRED)
    if (retired) {
      // A member gone for good never takes part again. What is left goes, the marker last.
      this.#guard('remove a retired member', () => {
        for (const name of [...segmentNames, ...snapshots]) this.#fs.remove(pathIn(this.directory, name))
        this.#fs.syncDirectory(this.directory)
        this.#fs.remove(pathIn(this.directory, RETIRED))
        this.#fs.syncDirectory(this.directory)
      })
      return { recovered: null, report: { tornBytes: 0, orphanSegments: segmentNames.length } }
    }
    if (newest === undefined) {
      // A log begun after a snapshot was durable is a member's whose snapshot file is gone, not an
      // unfinished join's: removing it would start the member as a newcomer, or found a new island.
      for (const name of segmentNames) {
        const taken = this.#snapshotNamedBy(name)
        if (taken !== null) {
          throw corrupt(
            `no snapshot in the directory, but ${name} was begun after the snapshot at position ${taken} (${snapshotName(taken)}): ` +
              'the snapshot file is gone',
          )
        }
      }
      // A member that never wrote its first snapshot never held the state: nothing here to resume.
      this.#guard('remove an unfinished log', () => {
        for (const name of segmentNames) this.#fs.remove(pathIn(this.directory, name))
        if (segmentNames.length > 0) this.#fs.syncDirectory(this.directory)
      })
      return { recovered: null, report: { tornBytes: 0, orphanSegments: segmentNames.length } }
    }
    // One buffer for every file read: it grows to the snapshot's size and is reused for the log.
    // A file system that only reads whole files (the simulator's disk) never uses it.
    const buffer = scanBuffer(this.#fs.readAt === undefined ? 0 : SCAN_CHUNK_BYTES)
    const snapshot = this.#readSnapshot(newest, buffer)
    checkExpected(snapshot.identity, expect)
    this.#identity = snapshot.identity
    this.#snapshotPosition = snapshot.position
    this.#guard('remove older snapshots', () => {
      for (const name of snapshots) if (name !== newest) this.#fs.remove(pathIn(this.directory, name))
    })

    const accepted = new AcceptedAbove(snapshot.position - this.#retainEntries)
    let tornBytes = 0
    const read: ReadSegment[] = []
    for (const [index, name] of segmentNames.entries()) {
      const last = index === segmentNames.length - 1
      const segment: ReadSegment = { index: Number(SEGMENT.exec(name)?.[1]), name, maxPosition: -1, header: null, bytes: 0 }
      let records = 0
      const visit = (payload: Uint8Array): void => {
        const record = parseRecord(payload, name)
        if (records++ === 0) {
          if (record.kind !== 'segment') throw corrupt(`${name} does not begin with a segment header`)
          if (!sameIdentity(record.identity, snapshot.identity)) {
            throw mismatch(`${name} belongs to ${describe(record.identity)}, the snapshot to ${describe(snapshot.identity)}`)
          }
          segment.header = record
          this.#absorbHeader(record)
          return
        }
        if (record.kind !== 'flush') throw corrupt(`${name}: a segment header inside the segment`)
        this.#absorbFlush(record, segment, accepted)
      }
      const scanned = last && this.#mutant === 'replay-torn-record' ? this.#replayTorn(name, visit) : this.#scan(name, last, buffer, visit)
      if (!scanned.ok) throw corrupt(`${name} at byte ${scanned.offset}: ${scanned.reason}`)
      tornBytes += scanned.tornBytes
      segment.bytes = scanned.validBytes
      if (scanned.tornBytes > 0) {
        this.#guard('cut a torn record', () => this.#fs.truncate(pathIn(this.directory, name), scanned.validBytes))
      }
      if (records === 0 && !last) throw corrupt(`${name} is empty, and only the newest segment may be (a crash as it was begun)`)
      read.push(segment)
    }
    if (read.at(-1)?.header === null) {
      // Created, then the crash took its header: nothing in it. Durable
      // before anything is appended to the segment before it: were the empty
      // one back after another crash, that segment's torn tail would sit in
      // the middle of the log and refuse the start. Only the segment right
      // after the one before it can be that; another file is no crash's.
      const empty = read.at(-1) as ReadSegment
      const before = read.at(-2)
      if (before !== undefined && empty.index !== before.index + 1) {
        throw corrupt(`${empty.name} has no header and does not follow ${before.name}: it is no segment a crash left begun`)
      }
      read.pop()
      this.#guard('remove an empty log segment', () => {
        this.#fs.remove(pathIn(this.directory, empty.name))
        this.#syncDirectory()
      })
    }
    this.#segments = this.#chain(read, snapshot, newest)
    const commit = Math.max(this.#commit, snapshot.position)
    this.#commit = commit
    // Go on appending to the newest segment (its torn tail, if any, was cut on disk above).
    const last = read.at(-1) as ReadSegment
    this.#file = this.#guard('open the log', () => this.#fs.openAppend(pathIn(this.directory, last.name)))
    this.#fileBytes = last.bytes
    const { retained, above } = splitAt(accepted.ordered(), snapshot.position)
    return {
      recovered: { snapshot, promised: this.#promised, accepted: above, retained, commit, seq: this.#seqReserved },
      report: { tornBytes, orphanSegments: 0 },
    }
  }

  /**
   * The segments a restart goes on with, once it checked they are the
   * unbroken chain the log was written as: from the oldest one the newest
   * header still needs (older ones are leftovers of a deletion a crash
   * interrupted, and are removed) to at least the segment the snapshot was
   * taken with, each the size the next one's header says it was when that
   * one was begun. Directories written before segments were linked are
   * checked as far as their headers tell.
   */
  #chain(read: ReadSegment[], snapshot: StoredSnapshot, snapshotFile: string): Segment[] {
    const last = read.at(-1)
    if (last === undefined) throw corrupt(`no log segment next to ${snapshotFile}: the log it was taken with is gone`)
    const first = last.header?.first
    if (first !== undefined) {
      const leftovers = read.filter((segment) => segment.index < first)
      if (leftovers.length > 0) {
        this.#guard('remove segments a snapshot replaced', () => {
          for (const segment of leftovers) this.#fs.remove(pathIn(this.directory, segment.name))
          this.#syncDirectory()
        })
        read.splice(0, leftovers.length)
      }
      if (read[0]?.index !== first) throw corrupt(`${segmentName(first)} is missing: ${last.name} says the log begins there`)
    }
    for (let at = 1; at < read.length; at++) {
      const before = read[at - 1] as ReadSegment
      const segment = read[at] as ReadSegment
      const previous = segment.header?.previous
      if (previous === undefined) continue
      if (previous.index !== before.index) throw corrupt(`${segmentName(previous.index)} is missing: ${segment.name} follows it`)
      if (previous.bytes !== before.bytes) {
        throw corrupt(`${before.name} is ${before.bytes} bytes, but it was ${previous.bytes} when ${segment.name} was begun`)
      }
    }
    if (snapshot.segment !== undefined && last.index < snapshot.segment) {
      throw corrupt(`the log ends at ${last.name}, but ${snapshotFile} was taken with ${segmentName(snapshot.segment)}`)
    }
    return read.map(({ index, name, maxPosition }) => ({ index, name, maxPosition }))
  }

  #readSnapshot(name: string, buffer: ScanBuffer): StoredSnapshot {
    let snapshot: StoredSnapshot | null = null
    let records = 0
    const scanned = this.#scan(name, false, buffer, (payload) => {
      if (records++ === 0) snapshot = parseJson(payload, name) as StoredSnapshot
    })
    if (!scanned.ok) throw corrupt(`${name} at byte ${scanned.offset}: ${scanned.reason}`)
    if (records !== 1) throw corrupt(`${name} holds ${records} records, not one`)
    const stored = snapshot as StoredSnapshot | null
    if (stored?.format !== STORAGE_FORMAT) throw corrupt(`${name}: unknown format ${String(stored?.format)}`)
    if (!isSnapshot(stored)) throw corrupt(`${name} is not shaped like a snapshot`)
    if (name !== snapshotName(stored.position)) throw corrupt(`${name} holds the snapshot of position ${stored.position}`)
    return stored
  }

  /** Visits the records of file `name` in order, read in large pieces through `buffer`. */
  #scan(name: string, tailMayTear: boolean, buffer: ScanBuffer, visit: (payload: Uint8Array) => void): ScanResult {
    const path = pathIn(this.directory, name)
    const fileSystem = this.#fs
    const source: RecordSource =
      fileSystem.readAt === undefined
        ? { whole: this.#guard('read the storage directory', () => fileSystem.read(path)) ?? new Uint8Array() }
        : { read: (into, position) => this.#guard('read the storage directory', () => fileSystem.readAt?.(path, position, into) ?? 0), buffer }
    return scanRecords(source, tailMayTear, visit)
  }

  /** The `replay-torn-record` mutant: reads a torn last record as if it were whole. */
  #replayTorn(name: string, visit: (payload: Uint8Array) => void): ScanResult {
    const data = this.#guard('read the log', () => this.#fs.read(pathIn(this.directory, name))) ?? new Uint8Array()
    const decoded = decodeRecords(data, false)
    if (!decoded.ok) return decoded
    const payloads = replayTorn(data)
    for (const payload of payloads) visit(payload)
    return { ok: true, records: payloads.length, validBytes: decoded.validBytes, tornBytes: decoded.tornBytes }
  }

  /** The snapshot position a segment's header names, or null (none named, or no header to read: a crash as it was begun). */
  #snapshotNamedBy(name: string): number | null {
    let header: SegmentHeader | null = null
    let first = true
    this.#scan(name, true, scanBuffer(this.#fs.readAt === undefined ? 0 : SCAN_CHUNK_BYTES), (payload) => {
      if (!first) return
      first = false
      try {
        const record = parseRecord(payload, name)
        if (record.kind === 'segment') header = record
      } catch {
        // An unreadable first record is no evidence of a snapshot.
      }
    })
    return (header as SegmentHeader | null)?.snapshot ?? null
  }

  #absorbHeader(header: SegmentHeader): void {
    if (header.promised !== null) this.#promised = header.promised
    this.#commit = Math.max(this.#commit, header.commit)
    this.#seqReserved = Math.max(this.#seqReserved, header.seq)
  }

  #absorbFlush(record: FlushRecord, segment: Segment, accepted: AcceptedAbove): void {
    if (record.promised !== undefined) this.#promised = record.promised
    if (record.commit !== undefined) this.#commit = Math.max(this.#commit, record.commit)
    if (record.seq !== undefined) this.#seqReserved = Math.max(this.#seqReserved, record.seq)
    for (const item of record.accepted ?? []) {
      if (item.position > segment.maxPosition) segment.maxPosition = item.position
      accepted.add(item)
    }
  }

  // ------------------------------------------------------------------ segments

  /**
   * Closes the current segment and starts the next with a header restating
   * what the log holds, and linking it to the one before. `first` is the
   * oldest segment the log needs from now on (default: the oldest it holds).
   */
  #roll(first?: number): void {
    const identity = this.#identity as StorageIdentity
    const current = this.#segments.at(-1)
    const index = (current?.index ?? 0) + 1
    const name = segmentName(index)
    const header: SegmentHeader = {
      kind: 'segment',
      format: STORAGE_FORMAT,
      identity,
      promised: this.#promised,
      commit: this.#commit,
      seq: this.#seqReserved,
      first: first ?? this.#segments[0]?.index ?? index,
      ...(current !== undefined && { previous: { index: current.index, bytes: this.#fileBytes } }),
      ...(this.#snapshotPosition >= 0 && { snapshot: this.#snapshotPosition }),
    }
    const bytes = encodeJsonRecord(header)
    this.#guard('start a log segment', () => {
      // Only the newest segment may end torn: what the old one holds unsynced (a commit point) is synced now.
      this.#file?.datasync()
      this.#file?.close()
      const file = this.#fs.openAppend(pathIn(this.directory, name))
      this.#file = file
      file.append(bytes)
      file.datasync()
      // The new file's name must survive a crash as well as its contents.
      this.#syncDirectory()
    })
    this.#fileBytes = bytes.length
    this.#segments.push({ index, name, maxPosition: -1 })
  }

  #syncDirectory(): void {
    if (this.#mutant !== 'no-directory-sync') this.#fs.syncDirectory(this.directory)
  }

  #assertOpen(): void {
    if (this.#closed) throw new ColleagueError('STORAGE_FAILED', 'the storage was closed')
  }

  /** File-system failures become STORAGE_FAILED; our own refusals pass through. */
  #guard<T>(what: string, action: () => T): T {
    try {
      return action()
    } catch (error) {
      if (error instanceof ColleagueError) throw error
      throw new ColleagueError('STORAGE_FAILED', `could not ${what} in ${this.directory}`, { cause: error })
    }
  }
}

/**
 * The entries accepted above the snapshot, the last record of a position
 * winning. A log is written in position order but for a position accepted
 * again under a later ballot: entries are kept in an array as they come,
 * and positions are indexed only from the first that does not come in order.
 */
class AcceptedAbove {
  readonly #above: number
  #items: Accepted[] = []
  #index: Map<number, number> | null = null
  #sorted = true

  constructor(above: number) {
    this.#above = above
  }

  add(item: Accepted): void {
    const position = item.position
    if (position <= this.#above) return
    const items = this.#items
    const last = items.at(-1)
    if (this.#index === null) {
      if (last === undefined || position > last.position) {
        items.push(item)
        return
      }
      this.#index = new Map(items.map((held, at) => [held.position, at]))
    }
    const at = this.#index.get(position)
    if (at !== undefined) {
      items[at] = item
      return
    }
    if (last !== undefined && position < last.position) this.#sorted = false
    this.#index.set(position, items.length)
    items.push(item)
  }

  /** In position order. */
  ordered(): Accepted[] {
    if (!this.#sorted) this.#items.sort((a, b) => a.position - b.position)
    return this.#items
  }
}

/**
 * `ordered` cut at the snapshot's `position`: above it, and the unbroken run
 * of positions ending at it. Each of those is chosen: the snapshot holds
 * their effect, so the member had them chosen in its log, and the last
 * record of a position is what it held then (a slot known chosen is never
 * written again). A gap means a position this log never held (the member
 * arrived, or resumed from a snapshot, past it): only what follows it is kept.
 */
function splitAt(ordered: Accepted[], position: number): { retained: Accepted[]; above: Accepted[] } {
  let first = 0
  while (first < ordered.length && (ordered[first] as Accepted).position <= position) first++
  if (first === 0) return { retained: [], above: ordered }
  const above = ordered.slice(first)
  let start = first - 1
  if ((ordered[start] as Accepted).position !== position) return { retained: [], above }
  while (start > 0 && (ordered[start - 1] as Accepted).position === (ordered[start] as Accepted).position - 1) start--
  return { retained: ordered.slice(start, first), above }
}

function snapshotName(position: number): string {
  return `snapshot-${String(position).padStart(16, '0')}.snap`
}

function segmentName(index: number): string {
  return `wal-${String(index).padStart(16, '0')}.log`
}

function parseJson(payload: Uint8Array, name: string): unknown {
  try {
    return JSON.parse(textOf(payload)) as unknown
  } catch (error) {
    throw corrupt(`${name}: a record that is not JSON`, error)
  }
}

/** UTF-8 text; ASCII (the common case) is decoded as Latin-1, the same characters at half the cost. */
function textOf(payload: Uint8Array): string {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
  return bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8')
}

function parseRecord(payload: Uint8Array, name: string): SegmentHeader | FlushRecord {
  const binary = decodeFlush(payload, name)
  if (binary !== null) return binary
  const record = parseJson(payload, name) as SegmentHeader | JsonFlushRecord | null
  if (record?.kind === 'segment') {
    if (record.format !== STORAGE_FORMAT) throw corrupt(`${name}: a segment header of unknown format ${JSON.stringify(record.format)}`)
    if (!isIdentity(record.identity) || !Number.isSafeInteger(record.commit) || !Number.isSafeInteger(record.seq)) {
      throw corrupt(`${name}: a malformed segment header`)
    }
    const { first, previous, snapshot } = record
    if (
      (first !== undefined && !isIndex(first)) ||
      (previous !== undefined && !(isIndex(previous?.index) && isIndex(previous.bytes))) ||
      (snapshot !== undefined && !(Number.isSafeInteger(snapshot) && snapshot >= 0))
    ) {
      throw corrupt(`${name}: a malformed segment header`)
    }
    if (record.promised !== null && !isBallot(record.promised)) throw corrupt(`${name}: a malformed promise`)
    return record
  }
  if (record?.kind === 'flush') {
    if (record.promised !== undefined && !isBallot(record.promised)) throw corrupt(`${name}: a malformed promise`)
    if (record.accepted !== undefined && !Array.isArray(record.accepted)) throw corrupt(`${name}: malformed accepted entries`)
    const accepted: Accepted[] = []
    for (const item of record.accepted ?? []) {
      if (!Array.isArray(item) || !Number.isSafeInteger(item[0]) || !isBallot(item[1]) || typeof item[2] !== 'object') {
        throw corrupt(`${name}: a malformed accepted entry`)
      }
      accepted.push({ position: item[0], ballot: item[1], entry: item[2] })
    }
    return {
      kind: 'flush',
      ...(record.promised !== undefined && { promised: record.promised }),
      ...(record.accepted !== undefined && { accepted }),
      ...(record.commit !== undefined && { commit: record.commit }),
      ...(record.seq !== undefined && { seq: record.seq }),
    }
  }
  throw corrupt(`${name}: a record of unknown kind`)
}

/** A binary flush record, or null when the payload is JSON. */
function decodeFlush(payload: Uint8Array, name: string): FlushRecord | null {
  let flush: FlushContents | null
  try {
    flush = decodeFlushPayload(payload)
  } catch (error) {
    if (error instanceof FlushFormatError) throw corrupt(`${name}: a malformed flush record (${error.message})`, error)
    throw error
  }
  if (flush === null) return null
  let ballot: Ballot | null = null
  for (const item of flush.accepted ?? []) {
    // Consecutive entries share one ballot object: checked once.
    if (!Number.isSafeInteger(item.position) || (item.ballot !== ballot && !isBallot(item.ballot))) {
      throw corrupt(`${name}: a malformed accepted entry`)
    }
    ballot = item.ballot
  }
  if (flush.promised !== undefined && !isBallot(flush.promised)) throw corrupt(`${name}: a malformed promise`)
  return { kind: 'flush', ...flush }
}

/** The `replay-torn-record` mutant: reads a torn last record as if it were whole. */
function replayTorn(data: Uint8Array): Uint8Array[] {
  const payloads: Uint8Array[] = []
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  let offset = 0
  while (offset + RECORD_HEADER_BYTES <= data.length) {
    const length = view.getUint32(offset, true)
    if (length === 0) break
    payloads.push(data.subarray(offset + RECORD_HEADER_BYTES, Math.min(data.length, offset + RECORD_HEADER_BYTES + length)))
    offset += RECORD_HEADER_BYTES + length
  }
  return payloads
}

function isIndex(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

/**
 * The shape a snapshot's fields must have for a restart to resume from it:
 * what a snapshot of a newer format or a broken writer would get wrong is
 * refused here, not met later as a TypeError deep in a restart.
 */
function isSnapshot(value: StoredSnapshot): boolean {
  const { identity, position, government, governmentPosition, submitters, arrival, segment } = value
  return (
    isIdentity(identity) &&
    Number.isSafeInteger(position) &&
    Number.isSafeInteger(governmentPosition) &&
    governmentPosition <= position &&
    isGovernmentShape(government) &&
    isSubmitterTable(submitters) &&
    (arrival === null || typeof arrival === 'string') &&
    (segment === undefined || isIndex(segment))
  )
}

function isGovernmentShape(value: unknown): value is Government {
  const government = value as Record<string, unknown> | null
  if (typeof government !== 'object' || government === null || Array.isArray(government)) return false
  const lists = ['majority', 'minority', 'constituents', 'naturalized', 'exiled'] as const
  const tables = ['properties', 'arrived', 'submitters'] as const
  return (
    typeof government['islandId'] === 'string' &&
    Number.isSafeInteger(government['number']) &&
    typeof government['promise'] === 'string' &&
    lists.every((key) => Array.isArray(government[key]) && (government[key] as unknown[]).every((id) => typeof id === 'string')) &&
    tables.every((key) => typeof government[key] === 'object' && government[key] !== null && !Array.isArray(government[key]))
  )
}

function isSubmitterTable(value: unknown): value is SubmitterTable {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  for (const seqs of Object.values(value)) {
    if (!Array.isArray(seqs) || !seqs.every((seq) => Number.isSafeInteger(seq))) return false
  }
  return true
}

function isIdentity(value: unknown): value is StorageIdentity {
  const identity = value as Partial<StorageIdentity> | null
  return (
    typeof identity === 'object' &&
    identity !== null &&
    typeof identity.islandName === 'string' &&
    typeof identity.islandId === 'string' &&
    typeof identity.colleagueId === 'string'
  )
}

function sameIdentity(a: StorageIdentity, b: StorageIdentity): boolean {
  return a.islandName === b.islandName && a.islandId === b.islandId && a.colleagueId === b.colleagueId
}

function checkExpected(identity: StorageIdentity, expect: { readonly islandName: string; readonly colleagueId?: string }): void {
  if (identity.islandName !== expect.islandName) {
    throw mismatch(`the directory belongs to island ${JSON.stringify(identity.islandName)}, not ${JSON.stringify(expect.islandName)}`)
  }
  if (expect.colleagueId !== undefined && identity.colleagueId !== expect.colleagueId) {
    throw mismatch(`the directory belongs to colleague ${JSON.stringify(identity.colleagueId)}, not ${JSON.stringify(expect.colleagueId)}`)
  }
}

function describe(identity: StorageIdentity): string {
  return `colleague ${JSON.stringify(identity.colleagueId)} of island ${JSON.stringify(identity.islandName)} (${identity.islandId})`
}

function corrupt(message: string, cause?: unknown): ColleagueError {
  return new ColleagueError('STORAGE_CORRUPT', message, cause === undefined ? undefined : { cause })
}

function mismatch(message: string): ColleagueError {
  return new ColleagueError('STORAGE_MISMATCH', message)
}
