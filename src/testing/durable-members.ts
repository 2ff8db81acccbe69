// Durable mode of the whole-colleague simulator: each member keeps a storage
// directory on its own simulated disk, and a lost process comes back from it.
// A crash is a power cut of that member's machine (its disk drops what was not
// synced, and the write in flight may be torn); a supervisor then starts the
// process again on the same directory, after a seeded delay, with the same
// bootstrap or join call as the first time. The library decides what that
// start is: the member resumed as itself, or, when the directory holds no
// member, nothing to resume. This module keeps the disks, the processes'
// access to them and the restart schedule; the simulation runs the colleagues.

import type { StorageOptions } from '../colleague/durability.js'
import { STORAGE_MUTANTS, type StorageMutant } from '../storage/durable-store.js'
import type { AppendFile, StorageFileSystem } from '../storage/file-system.js'
import type { Random } from './prng.js'
import { SimulatedDisk, type SimulatedDiskStats } from './simulated-disk.js'

/** Deliberately broken storage under whole colleagues, each caught by the durable simulation within 200 seeds. */
export const DURABLE_MUTANTS = STORAGE_MUTANTS
export type DurableMutant = StorageMutant

export interface DurableSimulateOptions {
  /**
   * Silence after which the leader exiles a durable member (`storage.exileMs`);
   * default drawn per seed between 500 and 1,000 ms, so that a member down
   * for longer is exiled while down and must learn it when it comes back.
   */
  readonly exileMs?: number
  /** `storage.snapshotEveryEntries`; default drawn per seed between 3 and 40, so snapshots and log trims happen often. */
  readonly snapshotEveryEntries?: number
  /** Draw whole-island crashes (every process at once, then all restart) as a fault; default true. */
  readonly islandCrashes?: boolean
  /**
   * Chance, at each sync of a member's disk during the fault phase, that the
   * power goes right then (after what its flush sent before the sync left,
   * before the sync); default 0.002, about one per seed.
   */
  readonly powerCutsInSync?: number
  /** Deliberately broken storage, to show the invariants bite. */
  readonly mutant?: DurableMutant
}

export interface DurableSimulationStats {
  /** Processes started again on their directory. */
  restarts: number
  /** Restarts that resumed the member as itself. */
  resumed: number
  /** Restarts whose directory held no member (it never wrote its first snapshot): the process is gone, as in memory mode. */
  notResumed: number
  /** Members that came back after being exiled while down, and crashed with EXILED. */
  exiledWhileDown: number
  /** Summed over every member's disk. */
  disk: SimulatedDiskStats
}

const POWER_CUTS_IN_SYNC = 0.002
/** Delay before a lost process starts again, in steps. */
const RESTART_STEPS_MAX = 40
/** Chance that a lost process stays down longer than the exile time. */
const LONG_RESTART_RATE = 0.15
const LONG_RESTART_EXTRA_STEPS_MAX = 100
const EXILE_MS_RANGE = [500, 1_000] as const
const SNAPSHOT_EVERY_RANGE = [3, 40] as const

export class DurableMembers {
  readonly exileMs: number
  readonly snapshotEveryEntries: number
  readonly islandCrashes: boolean
  readonly powerCutsInSync: number
  readonly mutant: DurableMutant | undefined
  readonly #random: Random
  readonly #syncCuts: Random
  /**
   * Set by the simulation: cuts the power of `id` now, in the middle of its
   * sync; false when it may not die now (a spare, or outside the fault phase).
   */
  cutPower: ((id: string) => boolean) | null = null
  readonly #disks = new Map<string, SimulatedDisk>()
  /** The running process's access to its disk, per member; revoked when the process ends. */
  readonly #access = new Map<string, ProcessDisk>()
  /** Member id to the step its process starts again. */
  readonly #restarts = new Map<string, number>()
  readonly #stats: Omit<DurableSimulationStats, 'disk'> = { restarts: 0, resumed: 0, notResumed: 0, exiledWhileDown: 0 }

  constructor(options: DurableSimulateOptions, random: Random) {
    this.#random = random
    this.#syncCuts = random.fork('sync-cuts')
    const draw = random.fork('settings')
    const [exileLow, exileHigh] = EXILE_MS_RANGE
    const [snapshotLow, snapshotHigh] = SNAPSHOT_EVERY_RANGE
    this.exileMs = options.exileMs ?? exileLow + draw.int(exileHigh - exileLow + 1)
    this.snapshotEveryEntries = options.snapshotEveryEntries ?? snapshotLow + draw.int(snapshotHigh - snapshotLow + 1)
    this.islandCrashes = options.islandCrashes ?? true
    this.powerCutsInSync = options.powerCutsInSync ?? POWER_CUTS_IN_SYNC
    this.mutant = options.mutant
  }

  get stats(): DurableSimulationStats {
    const disk: SimulatedDiskStats = { writes: 0, syncs: 0, directorySyncs: 0, crashes: 0, lostBytes: 0, tornWrites: 0 }
    for (const each of this.#disks.values()) {
      for (const key of Object.keys(disk) as (keyof SimulatedDiskStats)[]) disk[key] += each.stats[key]
    }
    return { ...this.#stats, disk }
  }

  /** The storage option of a new process of member `id`: its directory on its own disk. */
  storage(id: string): StorageOptions {
    let disk = this.#disks.get(id)
    if (disk === undefined) {
      disk = new SimulatedDisk()
      this.#disks.set(id, disk)
    }
    this.#access.get(id)?.revoke()
    const access = new ProcessDisk(disk, () => this.#syncing(id))
    this.#access.set(id, access)
    return {
      directory: `/sim/${id}`,
      fileSystem: access,
      exileMs: this.exileMs,
      snapshotEveryEntries: this.snapshotEveryEntries,
      ...(this.mutant !== undefined && { mutant: this.mutant }),
    }
  }

  /**
   * The process of `id` ended. After a power cut its disk keeps only what
   * was synced (and perhaps a torn part of the last write); a process that
   * stopped by itself leaves its writes to the operating system, which keeps
   * them. Either way the dead process touches the disk no more.
   */
  ended(id: string, powerCut: boolean): void {
    this.#access.get(id)?.revoke()
    this.#access.delete(id)
    if (powerCut) this.#disks.get(id)?.crash(this.#random.fork(`crash:${id}:${this.#disks.get(id)?.stats.crashes ?? 0}`))
  }

  /** A supervisor will start `id` again after a seeded delay; `exileSteps` is how long silence takes to exile it. */
  scheduleRestart(id: string, step: number, exileSteps: number, mayOutlastExile = true): void {
    const delay =
      mayOutlastExile && this.#random.chance(LONG_RESTART_RATE)
        ? exileSteps + 1 + this.#random.int(LONG_RESTART_EXTRA_STEPS_MAX)
        : 1 + this.#random.int(RESTART_STEPS_MAX)
    this.#restarts.set(id, step + delay)
  }

  /** Ids whose restart is due at `step` (all of them when `step` is null), in the order they went down. */
  takeDue(step: number | null): string[] {
    const due: string[] = []
    for (const [id, at] of this.#restarts) if (step === null || at <= step) due.push(id)
    for (const id of due) this.#restarts.delete(id)
    return due
  }

  /** Processes waiting to be started again. */
  get waiting(): number {
    return this.#restarts.size
  }

  isWaiting(id: string): boolean {
    return this.#restarts.has(id)
  }

  /** Before each sync of `id`'s process: the power may go now, and the sync never happens. */
  #syncing(id: string): void {
    if (this.cutPower === null || this.powerCutsInSync <= 0 || !this.#syncCuts.chance(this.powerCutsInSync)) return
    if (this.cutPower(id)) throw new Error('simulated disk: the power went during the sync')
  }

  noteRestart(resumed: boolean): void {
    this.#stats.restarts++
    if (resumed) this.#stats.resumed++
    else this.#stats.notResumed++
  }

  noteExiledWhileDown(): void {
    this.#stats.exiledWhileDown++
  }
}

/** One process's access to a disk: once the process is gone, a late promise continuation of it cannot write. */
class ProcessDisk implements StorageFileSystem {
  readonly #disk: SimulatedDisk
  readonly #beforeSync: () => void
  #alive = true

  constructor(disk: SimulatedDisk, beforeSync: () => void) {
    this.#disk = disk
    this.#beforeSync = beforeSync
  }

  revoke(): void {
    this.#alive = false
  }

  makeDirectory(directory: string): void {
    this.#check()
    this.#disk.makeDirectory(directory)
  }

  list(directory: string): string[] {
    this.#check()
    return this.#disk.list(directory)
  }

  read(path: string): Uint8Array | null {
    this.#check()
    return this.#disk.read(path)
  }

  openAppend(path: string): AppendFile {
    this.#check()
    const file = this.#disk.openAppend(path)
    return {
      append: (data) => {
        this.#check()
        file.append(data)
      },
      datasync: () => {
        this.#check()
        this.#beforeSync()
        file.datasync()
      },
      close: () => file.close(),
    }
  }

  writeSynced(path: string, data: Uint8Array): void {
    this.#check()
    this.#beforeSync()
    this.#disk.writeSynced(path, data)
  }

  rename(from: string, to: string): void {
    this.#check()
    this.#disk.rename(from, to)
  }

  syncDirectory(directory: string): void {
    this.#check()
    this.#beforeSync()
    this.#disk.syncDirectory(directory)
  }

  remove(path: string): void {
    this.#check()
    this.#disk.remove(path)
  }

  truncate(path: string, length: number): void {
    this.#check()
    this.#disk.truncate(path, length)
  }

  #check(): void {
    if (!this.#alive) throw new Error('simulated disk: the process that opened it is gone')
  }
}
