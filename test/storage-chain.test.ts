// A storage directory is one process's, and its log is one unbroken chain of
// segments: what a restart finds missing, emptied or cut short in that chain,
// a snapshot not shaped as one, or a directory another living process holds,
// refuses the start with a typed error instead of resuming on less than the
// member acknowledged.

import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { isColleagueError } from '../src/index.js'
import type { Ballot, Government, LogEntry } from '../src/paxos/types.js'
import { DurableStore, type DurableStoreOptions } from '../src/storage/durable-store.js'
import { LOCK_NAME, TAKEOVER_NAME } from '../src/storage/file-system.js'
import { decodeRecords, encodeJsonRecord, encodeRecord } from '../src/storage/records.js'
import { soloGovernment, STORAGE_IDENTITY, temporaryDirectories } from './support/storage.js'

const directory = temporaryDirectories('paxos-chain-')
const identity = STORAGE_IDENTITY
const ballot = (round: number): Ballot => ({ round, id: 'a' })
const value = (seq: number): LogEntry => ({ type: 'value', submission: { from: 'a', seq, value: { n: seq, pad: 'x'.repeat(40) } } })
const government = (): Government => soloGovernment({ a: { location: 'http://127.0.0.1:1' } })
const STORE_PATH = fileURLToPath(new URL('../src/storage/durable-store.js', import.meta.url))

function snapshotAt(position: number): Parameters<DurableStore['writeSnapshot']>[0] {
  return { position, government: government(), governmentPosition: 0, submitters: { a: [position] }, arrival: '1/0', state: { at: position } }
}

/** Bootstrapped, snapshot at 0, then `count` entries in segments of about 300 bytes: several segments. */
function member(dir: string, count: number, options: Partial<DurableStoreOptions> = {}): DurableStore {
  const { store } = DurableStore.open({ directory: dir, segmentBytesMax: 300, ...options }, { islandName: 'isle' })
  store.begin(identity)
  store.persist({ promised: ballot(1), accepted: [{ position: 0, ballot: ballot(1), entry: { type: 'government', government: government() } }], commit: 0, seq: 0 })
  store.writeSnapshot(snapshotAt(0))
  for (let position = 1; position <= count; position++) add(store, position)
  return store
}

function add(store: DurableStore, position: number): void {
  store.persist({ promised: null, accepted: [{ position, ballot: ballot(1), entry: value(position) }], commit: position, seq: position })
}

function reopen(dir: string, options: Partial<DurableStoreOptions> = {}) {
  return DurableStore.open({ directory: dir, segmentBytesMax: 300, ...options }, { islandName: 'isle' })
}

/** Opens and closes at once: what a restart finds. */
function positionsAfterRestart(dir: string, options: Partial<DurableStoreOptions> = {}): number[] {
  const { store, recovered } = reopen(dir, options)
  store.close()
  return recovered?.accepted.map((item) => item.position) ?? []
}

function segments(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.startsWith('wal-')).sort()
}

function refused(dir: string, code: string, pattern: RegExp, options: Partial<DurableStoreOptions> = {}): void {
  assert.throws(
    () => reopen(dir, options),
    (error: unknown) => isColleagueError(error) && error.code === code && pattern.test(error.message),
    `expected ${code} matching ${pattern}`,
  )
}

/** Byte length of the first record of `path` (a segment's header). */
function headerBytes(path: string): number {
  const decoded = decodeRecords(readFileSync(path), false)
  assert.ok(decoded.ok)
  return encodeRecord(decoded.payloads[0] as Uint8Array).length
}

/** Rewrites the first record of `path` (JSON) through `change`, keeping the rest. */
function rewriteFirstRecord(path: string, change: (record: Record<string, unknown>) => unknown): void {
  const data = readFileSync(path)
  const decoded = decodeRecords(data, false)
  assert.ok(decoded.ok)
  const first = decoded.payloads[0] as Uint8Array
  const record = JSON.parse(Buffer.from(first).toString('utf8')) as Record<string, unknown>
  const rest = data.subarray(encodeRecord(first).length)
  writeFileSync(path, Buffer.concat([encodeJsonRecord(change(record)), rest]))
}

test('a segment missing in the middle of the log, emptied, cut short at a record boundary, or every segment gone: STORAGE_CORRUPT', () => {
  const dir = directory()
  member(dir, 30).close()
  const names = segments(dir)
  assert.ok(names.length >= 4, `segments: ${names.join(', ')}`)
  const all = Array.from({ length: 30 }, (_, index) => index + 1)
  assert.deepEqual(positionsAfterRestart(dir), all)
  const middle = join(dir, names[1] as string)
  const pristine = readFileSync(middle)

  rmSync(middle)
  refused(dir, 'STORAGE_CORRUPT', /is missing/)
  writeFileSync(middle, pristine)

  // Whole records only, so that no record is damaged: only its size tells.
  truncateSync(middle, headerBytes(middle))
  refused(dir, 'STORAGE_CORRUPT', /bytes, but it was/)
  truncateSync(middle, 0)
  refused(dir, 'STORAGE_CORRUPT', /is empty/)
  writeFileSync(middle, pristine)

  const first = join(dir, names[0] as string)
  const firstBytes = readFileSync(first)
  rmSync(first)
  refused(dir, 'STORAGE_CORRUPT', /is missing: .* says the log begins there/)
  writeFileSync(first, firstBytes)

  const saved = names.map((name) => readFileSync(join(dir, name)))
  for (const name of names) rmSync(join(dir, name))
  refused(dir, 'STORAGE_CORRUPT', /no log segment/)
  names.forEach((name, index) => writeFileSync(join(dir, name), saved[index] as Buffer))

  // Every refusal left the directory as it was: put back whole, it resumes with everything.
  assert.deepEqual(positionsAfterRestart(dir), all)
})

test('a member whose snapshot file is gone is STORAGE_CORRUPT, not a join that never completed: its log stays, and resumes once the file is back', () => {
  for (const count of [0, 30]) {
    const dir = directory()
    member(dir, count).close()
    const [snapshot] = readdirSync(dir).filter((name) => name.endsWith('.snap'))
    assert.ok(snapshot !== undefined)
    const kept = readFileSync(join(dir, snapshot))
    const before = segments(dir)
    rmSync(join(dir, snapshot))
    refused(dir, 'STORAGE_CORRUPT', /no snapshot in the directory, but wal-\d+\.log was begun after the snapshot at position 0 .*the snapshot file is gone/)
    assert.deepEqual(segments(dir), before, 'no segment was removed')
    writeFileSync(join(dir, snapshot), kept)
    assert.deepEqual(positionsAfterRestart(dir), Array.from({ length: count }, (_, index) => index + 1))
  }
})

test('a file named as a segment, with no header, that does not follow the newest segment is STORAGE_CORRUPT, not a torn one', () => {
  const dir = directory()
  member(dir, 10).close()
  const names = segments(dir)
  const after = Number(/(\d+)/.exec(names.at(-1) as string)?.[1]) + 1
  const stray = join(dir, `wal-${String(after + 90).padStart(16, '0')}.log`)
  writeFileSync(stray, 'hello')
  refused(dir, 'STORAGE_CORRUPT', /has no header and does not follow/)
  assert.ok(existsSync(stray), 'left where it was')
  rmSync(stray)
  // Right after the newest, the same bytes are a segment a crash left begun: removed, and the member resumes.
  writeFileSync(join(dir, `wal-${String(after).padStart(16, '0')}.log`), 'hello')
  assert.deepEqual(positionsAfterRestart(dir), Array.from({ length: 10 }, (_, index) => index + 1))
  assert.deepEqual(segments(dir), names)
})

test('segments a snapshot replaced but a crash kept (any of them, not only the oldest) are removed at the restart', () => {
  const dir = directory()
  const store = member(dir, 30)
  const before = new Map(segments(dir).map((name) => [name, readFileSync(join(dir, name))]))
  store.writeSnapshot(snapshotAt(28))
  add(store, 31)
  store.close()
  const gone = [...before.keys()].filter((name) => !existsSync(join(dir, name)))
  assert.ok(gone.length >= 3, `the snapshot deleted ${gone.join(', ')}`)
  // Their removals never reached the disk: not the oldest alone, but two further up.
  for (const name of gone.slice(1)) writeFileSync(join(dir, name), before.get(name) as Buffer)
  const { store: again, recovered } = reopen(dir)
  assert.deepEqual(recovered?.accepted.map((item) => item.position), [29, 30, 31])
  again.close()
  for (const name of gone) assert.equal(existsSync(join(dir, name)), false, `${name} removed`)
  assert.deepEqual(positionsAfterRestart(dir), [29, 30, 31])
})

test('the newest segment holding only its header, damaged once the segments before it are gone, is STORAGE_CORRUPT, not a torn tail', () => {
  const dir = directory()
  const store = member(dir, 10)
  store.writeSnapshot(snapshotAt(10))
  store.close()
  const names = segments(dir)
  assert.equal(names.length, 1, `only the segment begun at the snapshot is left: ${names.join(', ')}`)
  const newest = join(dir, names[0] as string)
  const pristine = readFileSync(newest)
  assert.equal(pristine.length, headerBytes(newest), 'it holds its header alone')
  for (const damage of [
    (data: Buffer) => Buffer.concat([data.subarray(0, -1), Buffer.from([(data.at(-1) as number) ^ 1])]),
    (data: Buffer) => data.subarray(0, 10),
    (data: Buffer) => data.subarray(0, 0),
  ]) {
    writeFileSync(newest, damage(pristine))
    refused(dir, 'STORAGE_CORRUPT', /no log segment/)
  }
  writeFileSync(newest, pristine)
  const { store: again, recovered } = reopen(dir)
  assert.deepEqual(recovered?.promised, ballot(1), 'whole, its header gives back the promise')
  assert.ok((recovered?.seq ?? 0) >= 10, 'and the seqs reserved')
  again.close()

  // With the segment before it still there, an empty newest segment is a crash as it was begun.
  const other = directory()
  member(other, 10).close()
  const last = segments(other).at(-1) as string
  const next = `wal-${String(Number(last.slice(4, 20)) + 1).padStart(16, '0')}.log`
  writeFileSync(join(other, next), '')
  assert.deepEqual(positionsAfterRestart(other), Array.from({ length: 10 }, (_, index) => index + 1))
  assert.equal(existsSync(join(other, next)), false)
})

test('a log that ends before the segment its snapshot was taken with is STORAGE_CORRUPT', () => {
  const dir = directory()
  // Nothing deleted: the chain from the first segment holds, and only its end is missing.
  const options = { retainEntries: 100 }
  const store = member(dir, 30, options)
  const current = segments(dir).at(-1) as string
  store.writeSnapshot(snapshotAt(30))
  store.close()
  const names = segments(dir)
  assert.ok(names.indexOf(current) >= 1, `the retained segments before ${current} are kept: ${names.join(', ')}`)
  // The newest segments lost whole, back past the one the snapshot was taken with.
  for (const name of names.slice(names.indexOf(current))) renameSync(join(dir, name), join(dir, `${name}.away`))
  refused(dir, 'STORAGE_CORRUPT', /the log ends at .* but snapshot-.* was taken with/, options)
})

test('after an empty newest segment is removed, the segment before it goes on at its real size', () => {
  const dir = directory()
  const options = { segmentBytesMax: 2000 }
  member(dir, 2, options).close()
  const last = segments(dir).at(-1) as string
  const next = `wal-${String(Number(last.slice(4, 20)) + 1).padStart(16, '0')}.log`
  writeFileSync(join(dir, next), '')
  const { store } = reopen(dir, options)
  // Until the segment fills and another begins, whose header records the size this one ended at.
  let position = 3
  while (segments(dir).length < 2 && position < 100) add(store, position++)
  store.close()
  assert.ok(segments(dir).length === 2, `segments: ${segments(dir).join(', ')}`)
  assert.deepEqual(positionsAfterRestart(dir, options), Array.from({ length: position - 1 }, (_, index) => index + 1))
})

test('a snapshot not shaped as one, or under another position\'s name, and a segment header of another format: STORAGE_CORRUPT', () => {
  const dir = directory()
  member(dir, 3).close()
  const snapshot = join(dir, readdirSync(dir).find((name) => name.endsWith('.snap')) as string)
  const pristine = readFileSync(snapshot)
  for (const change of [
    (record: Record<string, unknown>) => ({ ...record, government: null }),
    (record: Record<string, unknown>) => ({ ...record, government: { ...(record['government'] as object), majority: 'a' } }),
    (record: Record<string, unknown>) => {
      const { submitters: _, ...rest } = record
      return rest
    },
    (record: Record<string, unknown>) => ({ ...record, submitters: 'x' }),
    (record: Record<string, unknown>) => ({ ...record, governmentPosition: 5 }),
    (record: Record<string, unknown>) => ({ ...record, arrival: 7 }),
  ]) {
    rewriteFirstRecord(snapshot, change)
    refused(dir, 'STORAGE_CORRUPT', /is not shaped like a snapshot/)
    writeFileSync(snapshot, pristine)
  }
  renameSync(snapshot, join(dir, 'snapshot-0000000000000005.snap'))
  refused(dir, 'STORAGE_CORRUPT', /holds the snapshot of position 0/)
  renameSync(join(dir, 'snapshot-0000000000000005.snap'), snapshot)

  const newest = join(dir, segments(dir).at(-1) as string)
  const segment = readFileSync(newest)
  rewriteFirstRecord(newest, (record) => ({ ...record, format: 2 }))
  refused(dir, 'STORAGE_CORRUPT', /unknown format 2/)
  writeFileSync(newest, segment)
  assert.deepEqual(positionsAfterRestart(dir), [1, 2, 3])
})

test('one store per directory: a second in this process is STORAGE_LOCKED until the first closes', () => {
  const dir = directory()
  const first = member(dir, 2)
  assert.throws(() => reopen(dir), (error: unknown) => isColleagueError(error) && error.code === 'STORAGE_LOCKED' && /this process/.test(error.message))
  first.close()
  assert.equal(existsSync(join(dir, LOCK_NAME)), false, 'closing lets go of the lock file')
  assert.deepEqual(positionsAfterRestart(dir), [1, 2])
})

test('a lock left by a process that is gone is taken over; one of a living process or of another host refuses the start', async () => {
  const dir = directory()
  member(dir, 2).close()
  const lock = join(dir, LOCK_NAME)
  const gone = spawnSync(process.execPath, ['-e', ''])
  assert.ok(gone.pid !== undefined)
  writeFileSync(lock, JSON.stringify({ pid: gone.pid, host: hostname(), started: null }))
  const taken = reopen(dir)
  assert.equal(JSON.parse(readFileSync(lock, 'utf8')).pid, process.pid, 'the lock now names this process')
  taken.store.close()

  // Killed and not yet reaped: a zombie's pid still answers a signal, but it holds nothing.
  if (process.platform === 'linux') {
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] })
    try {
      const zombie = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString()))))
      for (const deadline = Date.now() + 10_000; !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${zombie}/stat`, 'latin1')) && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      writeFileSync(lock, JSON.stringify({ pid: zombie, host: hostname(), started: null }))
      reopen(dir).store.close()
    } finally {
      parent.kill('SIGKILL')
    }
  }

  writeFileSync(lock, JSON.stringify({ pid: process.pid, host: 'another-host.invalid', started: null }))
  refused(dir, 'STORAGE_LOCKED', /another-host\.invalid/)
  writeFileSync(lock, '')
  // Empty (a crash between creating the file and writing it): taken over.
  reopen(dir).store.close()

  const living = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' })
  try {
    assert.ok(living.pid !== undefined)
    writeFileSync(lock, JSON.stringify({ pid: living.pid, host: hostname(), started: null }))
    refused(dir, 'STORAGE_LOCKED', new RegExp(`process ${living.pid} on `))
  } finally {
    await new Promise<void>((resolve) => {
      living.once('exit', () => resolve())
      living.kill('SIGKILL')
    })
  }
  assert.deepEqual(positionsAfterRestart(dir), [1, 2], 'its process gone, the lock is taken over')
})

test('two processes on one directory: the second refuses with STORAGE_LOCKED; once the first is SIGKILLed, a restart takes over', async (t) => {
  const dir = directory()
  member(dir, 2).close()
  const script = `
    import { DurableStore } from ${JSON.stringify(STORE_PATH)}
    const { store } = DurableStore.open({ directory: ${JSON.stringify(dir)} }, { islandName: 'isle' })
    process.stdout.write('open\\n')
    setInterval(() => {}, 1000)`
  const holder = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<void>((resolve) => holder.once('exit', () => resolve()))
  t.after(() => holder.kill('SIGKILL'))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the first process did not open the directory within 30 s')), 30_000)
    holder.stdout.on('data', (chunk: Buffer) => {
      if (!chunk.toString().includes('open')) return
      clearTimeout(timer)
      resolve()
    })
    holder.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the first process exited with ${code}`))
    })
  })
  refused(dir, 'STORAGE_LOCKED', new RegExp(`process ${holder.pid} on `))
  holder.kill('SIGKILL')
  await exited
  assert.ok(existsSync(join(dir, LOCK_NAME)), 'SIGKILL left its lock file behind')
  assert.deepEqual(positionsAfterRestart(dir), [1, 2])
})

test('of two processes that find one stale lock at once, only one takes the directory: the other meets the takeover and is refused', async (t) => {
  const dir = directory()
  member(dir, 2).close()
  const lock = join(dir, LOCK_NAME)
  const gone = spawnSync(process.execPath, ['-e', ''])
  const stale = JSON.stringify({ pid: gone.pid, host: hostname(), started: null })
  writeFileSync(lock, stale)
  // Each opens the directory and says how it went; one that opened it holds it until killed.
  const script = `
    import { DurableStore } from ${JSON.stringify(STORE_PATH)}
    try {
      DurableStore.open({ directory: ${JSON.stringify(dir)} }, { islandName: 'isle' })
      process.stdout.write('open\\n')
      setInterval(() => {}, 1000)
    } catch (error) {
      process.stdout.write('refused ' + error.code + ' ' + error.message + '\\n')
    }`
  const start = (env: NodeJS.ProcessEnv): { child: ReturnType<typeof spawn>; said: Promise<string> } => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } })
    t.after(() => child.kill('SIGKILL'))
    const said = new Promise<string>((resolve, reject) => {
      let text = ''
      const timer = setTimeout(() => reject(new Error(`process ${child.pid} said nothing within 30 s`)), 30_000)
      ;(child.stdout as NodeJS.ReadableStream).on('data', (chunk: Buffer) => {
        text += chunk.toString()
        if (!text.includes('\n')) return
        clearTimeout(timer)
        resolve(text.trim())
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`process ${child.pid} exited with ${code} having said ${JSON.stringify(text)}`))
      })
    })
    return { child, said }
  }
  // The first pauses inside its takeover, after reading the stale lock and before removing it (a failpoint)...
  const first = start({ PAXOS_COLLEAGUE_FAILPOINT_TAKEOVER_PAUSE_MS: '3000' })
  const guard = join(dir, TAKEOVER_NAME)
  for (const deadline = Date.now() + 30_000; !existsSync(guard); ) {
    assert.ok(Date.now() < deadline, 'the first process began its takeover within 30 s')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  // ...and the second finds the same stale lock right then.
  assert.equal(readFileSync(lock, 'utf8'), stale)
  const second = start({})
  assert.match(await second.said, /^refused STORAGE_LOCKED .* is being taken over by another process/)
  assert.equal(await first.said, 'open')
  assert.equal(JSON.parse(readFileSync(lock, 'utf8')).pid, first.child.pid, 'the lock names the one that opened it')
  assert.equal(existsSync(guard), false, 'the takeover guard is gone')
  first.child.kill('SIGKILL')
})

test('a takeover guard left by a process that died inside its takeover goes once it is old; a fresh one refuses the start', () => {
  const dir = directory()
  member(dir, 2).close()
  const gone = spawnSync(process.execPath, ['-e', ''])
  writeFileSync(join(dir, LOCK_NAME), JSON.stringify({ pid: gone.pid, host: hostname(), started: null }))
  const guard = join(dir, TAKEOVER_NAME)
  mkdirSync(guard)
  refused(dir, 'STORAGE_LOCKED', /being taken over by another process/)
  assert.ok(existsSync(guard), 'a fresh guard is left to its process')
  const minuteAgo = new Date(Date.now() - 60_000)
  utimesSync(guard, minuteAgo, minuteAgo)
  const taken = reopen(dir)
  assert.equal(JSON.parse(readFileSync(join(dir, LOCK_NAME), 'utf8')).pid, process.pid)
  assert.equal(existsSync(guard), false)
  taken.store.close()
  assert.deepEqual(positionsAfterRestart(dir), [1, 2])
})
