// Restart time of a durable member: a storage directory is written with a
// snapshot of the kv application of about `snapshotBytes` and `entries` log
// entries after it, then `serve --data-dir` is started on it and timed from
// spawn to its "listening" line (printed once the snapshot is restored and
// every entry after it applied again).

import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bootstrapGovernment } from '../src/paxos/government.js'
import type { Ballot, LogEntry } from '../src/paxos/types.js'
import { DurableStore } from '../src/storage/durable-store.js'
import { stopProcess, track, trackDirectory } from './processes.js'
import { median } from './stats.js'

const MAIN_PATH = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))
const FLUSH_ENTRIES = 1000
const VALUE_BYTES = 100
const READY_TIMEOUT_MS = 300_000

export interface RestartReport {
  readonly entries: number
  readonly snapshotBytes: number
  readonly logBytes: number
  /** Spawn to "listening", per run, in ms. */
  readonly restartMs: number[]
  readonly medianMs: number
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  return typeof address === 'object' && address !== null ? address.port : 0
}

function sizeOf(directory: string, suffix: string): number {
  return readdirSync(directory)
    .filter((name) => name.endsWith(suffix))
    .reduce((sum, name) => sum + statSync(join(directory, name)).size, 0)
}

/** Writes the member's directory the way a member running that long would have left it. */
export function writeMember(directory: string, port: number, entries: number, snapshotBytes: number): void {
  const islandId = randomUUID()
  const id = 'r1'
  const government = bootstrapGovernment(islandId, id, { location: `http://127.0.0.1:${port}` })
  const ballot: Ballot = { round: 1, id }
  const { store } = DurableStore.open({ directory }, { islandName: 'bench' })
  store.begin({ islandName: 'bench', islandId, colleagueId: id })
  store.persist({ promised: ballot, accepted: [{ position: 0, ballot, entry: { type: 'government', government } }], commit: 0, seq: 0 })
  const value = 'v'.repeat(VALUE_BYTES)
  const pairs: [string, { value: string; position: number }][] = []
  // One pair serialises to about VALUE_BYTES + 40 bytes.
  for (let index = 0; index * (VALUE_BYTES + 40) < snapshotBytes; index++) pairs.push([`s${index}`, { value, position: 0 }])
  store.writeSnapshot({ position: 0, government, governmentPosition: 0, submitters: {}, arrival: null, state: { position: 0, pairs } })
  for (let from = 1; from <= entries; from += FLUSH_ENTRIES) {
    const accepted: { position: number; ballot: Ballot; entry: LogEntry }[] = []
    for (let position = from; position < from + FLUSH_ENTRIES && position <= entries; position++) {
      // A log value is JSON text, as enqueue() writes it.
      const submission = { from: id, seq: position, value: JSON.stringify({ kv: 'put', key: `k${position % 1024}`, value }) }
      accepted.push({ position, ballot, entry: { type: 'value', submission } })
    }
    const last = (accepted.at(-1) as { position: number }).position
    store.persist({ promised: null, accepted, commit: last, seq: last })
  }
  store.close()
}

function timeStart(directory: string, port: number): Promise<number> {
  const started = process.hrtime.bigint()
  const child = track(
    spawn(
      process.execPath,
      [MAIN_PATH, 'serve', '--island', 'bench', '--bind', `127.0.0.1:${port}`, '--bootstrap', '--data-dir', directory, '--log-level', 'warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  )
  let stderr = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4096)
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no restart within ${READY_TIMEOUT_MS} ms: ${stderr}`)), READY_TIMEOUT_MS)
    let stdout = ''
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => {
      stdout += chunk
      if (!stdout.includes('listening ')) return
      clearTimeout(timer)
      const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6
      void stopProcess(child, 5000).then(() => resolve(elapsedMs), reject)
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      if (!stdout.includes('listening ')) reject(new Error(`the member exited (${signal ?? code}) before listening: ${stderr}`))
    })
  })
}

export async function restartTime(options: { entries: number; snapshotBytes: number; runs: number }): Promise<RestartReport> {
  const root = trackDirectory(mkdtempSync(join(tmpdir(), 'paxos-colleague-bench-restart-')))
  const port = await freePort()
  const restartMs: number[] = []
  let snapshotBytes = 0
  let logBytes = 0
  for (let run = 1; run <= options.runs; run++) {
    // A fresh directory each run: a restart may leave a newer snapshot behind.
    const directory = join(root, `run${run}`)
    writeMember(directory, port, options.entries, options.snapshotBytes)
    snapshotBytes = sizeOf(directory, '.snap')
    logBytes = sizeOf(directory, '.log')
    restartMs.push(await timeStart(directory, port))
    rmSync(directory, { recursive: true, force: true })
  }
  return { entries: options.entries, snapshotBytes, logBytes, restartMs, medianMs: median(restartMs) }
}

// `node dist/bench/restart.js [entries] [snapshotMB] [runs]`: this figure alone.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [entries = '1000000', megabytes = '100', runs = '1'] = process.argv.slice(2)
  const report = await restartTime({ entries: Number(entries), snapshotBytes: Number(megabytes) * 1024 * 1024, runs: Number(runs) })
  process.stdout.write(`${JSON.stringify(report)}\n`)
  const { cleanup } = await import('./processes.js')
  cleanup()
}
