// The file-system calls durable storage makes, behind one small interface so
// that the simulator can hand in a disk that loses what was not synced when
// a process crashes. Every call is synchronous: a flush writes and syncs
// before the kibitzer sends anything, and nothing else runs meanwhile.

import * as fs from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { ColleagueError } from '../colleague/errors.js'

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
  /**
   * Optional: takes `directory` for this store until the returned function
   * is called, or throws a `STORAGE_LOCKED` ColleagueError while a living
   * process (this one included) holds it. Without it nothing stops two
   * stores on one directory.
   */
  lock?(directory: string): () => void
}

/** Opens `path` with `flags`, runs `action` on it, fsyncs it and closes it, closing it however that ended. */
function withSyncedFile(path: string, flags: string, action: (fd: number) => void): void {
  const fd = fs.openSync(path, flags)
  try {
    action(fd)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

function writeAll(fd: number, data: Uint8Array): void {
  let written = 0
  while (written < data.length) written += fs.writeSync(fd, data, written, data.length - written)
}

/** The lock file of a storage directory. */
export const LOCK_NAME = 'LOCK'

/** Who holds a directory's lock, as its lock file says. */
interface LockHolder {
  readonly pid: number
  readonly host: string
  /** The process's start time as /proc gives it (Linux), to tell a reused pid from the holder. */
  readonly started: string | null
}

/** Directories (real paths) a store of this process holds. */
const heldHere = new Set<string>()

/** A process's state and start time (clock ticks since boot) from /proc; null where there is none. */
function procStat(pid: number): { readonly state: string; readonly started: string } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { state: fields[0] ?? '', started: fields[19] ?? '' }
  } catch {
    return null
  }
}

function readHolder(path: string): { holder: LockHolder | null; text: string } | null {
  let text: string
  try {
    text = fs.readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
  try {
    const { pid, host, started } = JSON.parse(text) as Partial<LockHolder>
    if (Number.isSafeInteger(pid) && typeof host === 'string' && (started === null || typeof started === 'string')) {
      return { holder: { pid: pid as number, host, started }, text }
    }
  } catch {
    // Not JSON: a crash between creating the file and writing it.
  }
  return { holder: null, text }
}

/** Whether the process a lock file names may still run: the same host, the pid alive and, where /proc tells, started when it said. */
function holderAlive(holder: LockHolder): boolean {
  // Another host's processes cannot be checked from here: that lock holds until an operator removes it.
  if (holder.host !== hostname()) return true
  // This process, not holding it (heldHere said so): a lock a process with this pid left behind.
  if (holder.pid === process.pid) return false
  try {
    process.kill(holder.pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
  }
  const stat = procStat(holder.pid)
  if (stat === null) return true
  // A zombie (killed, not yet reaped) holds nothing; nor does a pid reused by a process started since.
  if (stat.state === 'Z' || stat.state === 'X') return false
  return holder.started === null || stat.started === holder.started
}

function locked(directory: string, holder: LockHolder | null): ColleagueError {
  const who = holder === null ? 'a process whose lock file is still being written' : `process ${holder.pid} on ${holder.host}`
  return new ColleagueError(
    'STORAGE_LOCKED',
    `${directory} is in use by ${who}; one process at a time uses a storage directory (remove ${join(directory, LOCK_NAME)} only if that process is gone)`,
  )
}

/**
 * A takeover in progress: the directory `LOCK.takeover`, made (atomically,
 * by one process of any that race) by the process removing a stale lock,
 * and removed once it has. One older than this was left by a process that
 * died in the middle of a takeover.
 */
export const TAKEOVER_NAME = `${LOCK_NAME}.takeover`
const TAKEOVER_STALE_MS = 10_000

/**
 * Test failpoint: a process started with this variable set to N pauses N ms
 * inside a takeover, between reading the stale lock and removing it, so that
 * a test can start a rival right then. Unset, nothing pauses.
 */
const TAKEOVER_PAUSE_VARIABLE = 'PAXOS_COLLEAGUE_FAILPOINT_TAKEOVER_PAUSE_MS'

/**
 * The lock of `directory` for this process: a lock file created only if
 * absent, naming this process. One a process that is gone left behind (a
 * crash, SIGKILL) is taken over. Of the processes that find the same stale
 * lock at once, only one removes it: each removal happens inside the
 * takeover guard and only while the file still holds what was judged stale,
 * and a new lock is only ever created where none is. A rival meeting a
 * takeover under way is refused, as it would be by the lock it leads to.
 */
function lockDirectory(directory: string): () => void {
  const key = fs.realpathSync(directory)
  if (heldHere.has(key)) {
    throw new ColleagueError('STORAGE_LOCKED', `${directory} is in use by another colleague of this process (${process.pid})`)
  }
  const path = join(directory, LOCK_NAME)
  const mine = JSON.stringify({ pid: process.pid, host: hostname(), started: procStat(process.pid)?.started ?? null } satisfies LockHolder)
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      // Created only if absent ('wx'): of two processes, one creates it and the other finds it.
      withSyncedFile(path, 'wx', (fd) => writeAll(fd, Buffer.from(mine)))
      heldHere.add(key)
      let held = true
      return () => {
        if (!held) return
        held = false
        heldHere.delete(key)
        // Only our own: a lock file another process took over after ours is theirs.
        if (readHolder(path)?.text === mine) fs.rmSync(path, { force: true })
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const found = readHolder(path)
    if (found === null) continue
    if (found.holder !== null && holderAlive(found.holder)) throw locked(directory, found.holder)
    if (found.holder === null && attempt === 0) {
      // Perhaps a process between creating its lock file and writing it: look once more.
      continue
    }
    takeOver(directory, path, found.text)
  }
  throw locked(directory, readHolder(path)?.holder ?? null)
}

/** Removes the lock file at `path` if it still holds `stale`, inside the takeover guard; refuses while another process holds the guard. */
function takeOver(directory: string, path: string, stale: string): void {
  const guard = join(directory, TAKEOVER_NAME)
  try {
    fs.mkdirSync(guard)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    if (!guardLeftBehind(guard)) {
      throw new ColleagueError(
        'STORAGE_LOCKED',
        `${directory} is being taken over by another process; one process at a time uses a storage directory`,
      )
    }
    // A process died inside its takeover: its guard goes, and the next attempt takes its own.
    fs.rmSync(guard, { recursive: true, force: true })
    return
  }
  try {
    const stillStale = readHolder(path)?.text === stale
    const pauseMs = Number(process.env[TAKEOVER_PAUSE_VARIABLE] ?? 0)
    if (pauseMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pauseMs)
    if (stillStale) fs.rmSync(path, { force: true })
  } finally {
    fs.rmSync(guard, { recursive: true, force: true })
  }
}

/** Whether the takeover guard is older than any takeover lasts: its process died inside one. */
function guardLeftBehind(guard: string): boolean {
  try {
    return Date.now() - fs.statSync(guard).mtimeMs > TAKEOVER_STALE_MS
  } catch (error) {
    // Gone meanwhile: that takeover ended; the next attempt looks again.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true
    throw error
  }
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
    withSyncedFile(path, 'w', (fd) => writeAll(fd, data))
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
    withSyncedFile(path, 'r+', (fd) => fs.ftruncateSync(fd, length))
  },
  lock: lockDirectory,
}

export function pathIn(directory: string, name: string): string {
  return join(directory, name)
}
