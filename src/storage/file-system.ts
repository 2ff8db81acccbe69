// The file-system calls durable storage makes, behind one small interface so
// that the simulator can hand in a disk that loses what was not synced when
// a process crashes. Every call is synchronous: a flush writes and syncs
// before the kibitzer sends anything, and nothing else runs meanwhile.

import * as fs from 'node:fs'
import { join } from 'node:path'

/** A file open for appending. */
export interface AppendFile {
  /** Appends `data` at the end (buffered by the OS until `datasync`). */
  append(data: Uint8Array): void
  /** Makes everything appended so far durable (fdatasync). */
  datasync(): void
  close(): void
}

export interface StorageFileSystem {
  /** Creates `directory` and its parents when absent. */
  makeDirectory(directory: string): void
  /** File names (not paths) in `directory`. */
  list(directory: string): string[]
  /** The whole file, or null when it does not exist. */
  read(path: string): Uint8Array | null
  /**
   * Optional: copies bytes of `path` from `position` into `into` and returns
   * how many (0 at its end). With it, a restart reads large files through one
   * reused buffer; without it, each file is read whole with `read`.
   */
  readAt?(path: string, position: number, into: Uint8Array): number
  /** Opens (creating when absent) `path` for appending. */
  openAppend(path: string): AppendFile
  /** Creates or replaces `path` with `data`, and syncs it (fsync) before returning. */
  writeSynced(path: string, data: Uint8Array): void
  /**
   * Optional: `writeSynced` off the event loop, resolving once `data` is
   * written and synced. With it a snapshot's bytes reach the disk while the
   * member goes on; without it they are written with `writeSynced`.
   */
  writeSyncedAsync?(path: string, data: Uint8Array): Promise<void>
  /** Renames atomically within one directory. */
  rename(from: string, to: string): void
  /** Makes the directory's entries (creations, renames, removals) durable (fsync of the directory). */
  syncDirectory(directory: string): void
  /** Removes `path`; absent is fine. */
  remove(path: string): void
  /** Cuts `path` to `length` bytes and syncs it. */
  truncate(path: string, length: number): void
}

/** Bytes per write of `writeSyncedAsync`: each is one request to the thread pool. */
const WRITE_CHUNK_BYTES = 8 * 1024 * 1024

/** The real disk, through node:fs. */
export const nodeFileSystem: StorageFileSystem = {
  makeDirectory(directory) {
    fs.mkdirSync(directory, { recursive: true })
  },
  list(directory) {
    return fs.readdirSync(directory)
  },
  read(path) {
    try {
      return fs.readFileSync(path)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw error
    }
  },
  readAt(path, position, into) {
    const fd = fs.openSync(path, 'r')
    try {
      return fs.readSync(fd, into, 0, into.length, position)
    } finally {
      fs.closeSync(fd)
    }
  },
  openAppend(path) {
    const fd = fs.openSync(path, 'a')
    return {
      append(data) {
        let written = 0
        while (written < data.length) written += fs.writeSync(fd, data, written, data.length - written)
      },
      datasync() {
        fs.fdatasyncSync(fd)
      },
      close() {
        fs.closeSync(fd)
      },
    }
  },
  writeSynced(path, data) {
    const fd = fs.openSync(path, 'w')
    try {
      let written = 0
      while (written < data.length) written += fs.writeSync(fd, data, written, data.length - written)
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
  },
  async writeSyncedAsync(path, data) {
    const file = await fs.promises.open(path, 'w')
    try {
      let written = 0
      while (written < data.length) {
        const { bytesWritten } = await file.write(data, written, Math.min(data.length - written, WRITE_CHUNK_BYTES))
        written += bytesWritten
      }
      await file.sync()
    } finally {
      await file.close()
    }
  },
  rename(from, to) {
    fs.renameSync(from, to)
  },
  syncDirectory(directory) {
    const fd = fs.openSync(directory, 'r')
    try {
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
  },
  remove(path) {
    fs.rmSync(path, { force: true })
  },
  truncate(path, length) {
    const fd = fs.openSync(path, 'r+')
    try {
      fs.ftruncateSync(fd, length)
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
  },
}

export function pathIn(directory: string, name: string): string {
  return join(directory, name)
}
