// A disk for the simulator, behind the same interface durable storage uses
// for node:fs. It remembers, per file, what was made durable (datasync,
// fsync) apart from what was only written, and, per directory, which
// creations, renames and removals were made durable (a sync of the
// directory). `crash()` is a power cut: every file loses what was not
// synced, except that the write in flight may leave a torn prefix behind; and
// every directory operation not yet synced is, independently, kept or lost
// (POSIX promises no order between them without a directory sync).

import { dirname } from 'node:path'
import type { AppendFile, StorageFileSystem } from '../storage/file-system.js'
import type { Random } from './prng.js'

/** A file: append-only (or cut by `truncate`), so what a crash keeps is a prefix. */
interface Inode {
  chunks: Uint8Array[]
  length: number
  /** Bytes that survive a crash. */
  synced: number
}

function inodeOf(data: Uint8Array, synced: boolean): Inode {
  return { chunks: data.length === 0 ? [] : [data], length: data.length, synced: synced ? data.length : 0 }
}

function contents(inode: Inode, length = inode.length): Uint8Array {
  const joined = new Uint8Array(length)
  let offset = 0
  for (const chunk of inode.chunks) {
    if (offset >= length) break
    const part = chunk.subarray(0, Math.min(chunk.length, length - offset))
    joined.set(part, offset)
    offset += part.length
  }
  return joined
}

function cut(inode: Inode, length: number): void {
  const kept = contents(inode, length)
  inode.chunks = kept.length === 0 ? [] : [kept]
  inode.length = kept.length
}

type DirectoryOperation =
  | { readonly kind: 'link'; readonly path: string; readonly inode: Inode }
  | { readonly kind: 'unlink'; readonly path: string }

export interface SimulatedDiskStats {
  writes: number
  syncs: number
  directorySyncs: number
  crashes: number
  /** Bytes of unsynced writes dropped at crashes. */
  lostBytes: number
  /** Crashes that left a torn prefix of an unsynced write. */
  tornWrites: number
}

export class SimulatedDisk implements StorageFileSystem {
  /** Names as a process sees them. */
  readonly #current = new Map<string, Inode>()
  /** Names as they would be found after a crash, had no pending operation persisted. */
  readonly #durable = new Map<string, Inode>()
  /** Directory operations not yet synced, in order. */
  #pending: DirectoryOperation[] = []
  readonly #directories = new Set<string>()
  readonly stats: SimulatedDiskStats = { writes: 0, syncs: 0, directorySyncs: 0, crashes: 0, lostBytes: 0, tornWrites: 0 }

  makeDirectory(directory: string): void {
    this.#directories.add(directory)
  }

  list(directory: string): string[] {
    const names: string[] = []
    for (const path of this.#current.keys()) if (dirname(path) === directory) names.push(path.slice(directory.length + 1))
    return names.sort()
  }

  read(path: string): Uint8Array | null {
    const inode = this.#current.get(path)
    return inode === undefined ? null : contents(inode)
  }

  openAppend(path: string): AppendFile {
    let inode = this.#current.get(path)
    if (inode === undefined) {
      inode = inodeOf(new Uint8Array(0), true)
      this.#link(path, inode)
    }
    const file = inode
    let open = true
    const assertOpen = (): void => {
      if (!open) throw new Error(`simulated disk: ${path} is closed`)
    }
    return {
      append: (data) => {
        assertOpen()
        file.chunks.push(data.slice())
        file.length += data.length
        this.stats.writes++
      },
      datasync: () => {
        assertOpen()
        file.synced = file.length
        this.stats.syncs++
      },
      close: () => {
        open = false
      },
    }
  }

  writeSynced(path: string, data: Uint8Array): void {
    this.#link(path, inodeOf(data.slice(), true))
    this.stats.writes++
    this.stats.syncs++
  }

  rename(from: string, to: string): void {
    const inode = this.#current.get(from)
    if (inode === undefined) throw Object.assign(new Error(`simulated disk: no ${from}`), { code: 'ENOENT' })
    this.#unlink(from)
    this.#link(to, inode)
  }

  syncDirectory(directory: string): void {
    const kept: DirectoryOperation[] = []
    for (const operation of this.#pending) {
      if (dirname(operation.path) !== directory) kept.push(operation)
      else this.#persist(operation)
    }
    this.#pending = kept
    this.stats.directorySyncs++
  }

  remove(path: string): void {
    if (this.#current.has(path)) this.#unlink(path)
  }

  truncate(path: string, length: number): void {
    const inode = this.#current.get(path)
    if (inode === undefined) throw Object.assign(new Error(`simulated disk: no ${path}`), { code: 'ENOENT' })
    cut(inode, Math.min(length, inode.length))
    inode.synced = inode.length
  }

  /**
   * A power cut. Unsynced bytes of each file are lost; with `tear`, a file
   * may keep a random prefix of them (the write in flight). Each unsynced
   * directory operation is kept or lost at random.
   */
  crash(random: Random, tear = true): void {
    this.stats.crashes++
    for (const operation of this.#pending) if (random.chance(0.5)) this.#persist(operation)
    this.#pending = []
    this.#current.clear()
    const inodes = new Set<Inode>()
    for (const [path, inode] of this.#durable) {
      this.#current.set(path, inode)
      inodes.add(inode)
    }
    for (const inode of inodes) {
      const unsynced = inode.length - inode.synced
      if (unsynced <= 0) continue
      const kept = tear && random.chance(0.5) ? random.int(unsynced) : 0
      if (kept > 0) this.stats.tornWrites++
      this.stats.lostBytes += unsynced - kept
      cut(inode, inode.synced + kept)
      inode.synced = inode.length
    }
  }

  /** Every file name and size, for traces. */
  describe(): string {
    return [...this.#current].map(([path, inode]) => `${path}:${inode.length}`).join(' ')
  }

  #link(path: string, inode: Inode): void {
    this.#current.set(path, inode)
    this.#pending.push({ kind: 'link', path, inode })
  }

  #unlink(path: string): void {
    this.#current.delete(path)
    this.#pending.push({ kind: 'unlink', path })
  }

  #persist(operation: DirectoryOperation): void {
    if (operation.kind === 'link') this.#durable.set(operation.path, operation.inode)
    else this.#durable.delete(operation.path)
  }
}
