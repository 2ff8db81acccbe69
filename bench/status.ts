// `npm run bench:status`: what open status pages cost the island's commits.
// A 3-member island of `serve` processes on loopback; PUT /kv at the leader at
// concurrency C, driven by bench/drive.ts in its own process; measured
// windows alternate between no page open and N pages held open on the leader
// (bench/status-pages.ts, another process, as N browsers would be), R runs of
// each. Reported as medians and the ratio of the two, from the same run.
//
//   npm run bench:status [-- --pages 100 --concurrency 16 --runs 3 --window-ms 10000 --quick]

import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { DriveSpec } from './drive.js'
import type { LoadResult } from './load.js'
import { installCleanup, stopProcess, track } from './processes.js'
import { median, processCpuMicros, ratio } from './stats.js'
import { startIsland, type Started } from './systems.js'

const TIMEOUTS = { pingMs: 100, timeoutMs: 1000 }
const OPERATION_TIMEOUT_MS = 10_000
const CHILD_TIMEOUT_MS = 60_000
/** Commits with N pages open must stay at or above this share of the commits without. */
export const STATUS_PAGES_TARGET = 0.9

export interface StatusBenchSpec {
  readonly pages: number
  readonly concurrency: number
  readonly runs: number
  readonly warmupMs: number
  readonly windowMs: number
}

export interface StatusWindow {
  readonly pages: number
  readonly load: LoadResult
  /** CPU of the leader's process per operation during the window. */
  readonly leaderMicrosPerOp: number
  /** Events the open pages received per second (0 without pages). */
  readonly eventsPerSecond: number
}

export interface StatusBenchResult {
  readonly spec: StatusBenchSpec
  readonly windows: readonly StatusWindow[]
  readonly withoutOpsPerSecond: number
  readonly withOpsPerSecond: number
  /** withOpsPerSecond / withoutOpsPerSecond. */
  readonly ratio: number
}

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url))

function lines(child: ChildProcess, onLine: (line: string) => void): void {
  let partial = ''
  child.stdout?.setEncoding('utf8')
  child.stdout?.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n')
    partial = parts.pop() ?? ''
    for (const line of parts) onLine(line)
  })
}

function failed(name: string, child: ChildProcess, stderr: () => string): Promise<never> {
  return new Promise((_, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`${name} exited (${signal ?? `code ${code}`}): ${stderr()}`)))
  })
}

function stderrOf(child: ChildProcess): () => string {
  let tail = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => (tail = (tail + chunk).slice(-4096)))
  return () => tail
}

/** Opens `pages` streams on `url` in a child process; resolves once every one delivered an event. */
async function openPages(url: string, pages: number): Promise<{ /** Resolves with the events received per second. */ stop(): Promise<number> }> {
  const child = track(spawn(process.execPath, [here('./status-pages.js'), url, String(pages)], { stdio: ['pipe', 'pipe', 'pipe'] }))
  const stderr = stderrOf(child)
  let events: number | null = null
  const open = new Promise<void>((resolve) => {
    lines(child, (line) => {
      if (line === `open ${pages}`) resolve()
      const match = /^events (\d+)$/.exec(line)
      if (match?.[1] !== undefined) events = Number(match[1])
    })
  })
  await Promise.race([open, failed('status-pages', child, stderr)])
  const openedAt = performance.now()
  return {
    async stop() {
      child.stdin?.end()
      await stopProcess(child, CHILD_TIMEOUT_MS)
      return ((events ?? 0) * 1000) / (performance.now() - openedAt)
    },
  }
}

/** One measured window of PUT /kv at `leader`, its CPU sampled at the window's edges. */
async function drive(leader: Started, spec: StatusBenchSpec): Promise<{ load: LoadResult; leaderMicros: number }> {
  const driveSpec: DriveSpec = {
    target: 'http',
    url: leader.url,
    prefix: '/kv/',
    concurrency: spec.concurrency,
    warmupMs: spec.warmupMs,
    windowMs: spec.windowMs,
    timeoutMs: OPERATION_TIMEOUT_MS,
  }
  const child = track(spawn(process.execPath, [here('./drive.js'), JSON.stringify(driveSpec)], { stdio: ['ignore', 'pipe', 'pipe'] }))
  const stderr = stderrOf(child)
  const pid = leader.child.pid ?? 0
  let cpuStart = 0
  let leaderMicros = Number.NaN
  const result = new Promise<LoadResult>((resolve) => {
    lines(child, (line) => {
      if (line === 'window start') cpuStart = processCpuMicros(pid) ?? Number.NaN
      else if (line === 'window end') leaderMicros = (processCpuMicros(pid) ?? Number.NaN) - cpuStart
      else if (line.startsWith('{')) resolve(JSON.parse(line) as LoadResult)
    })
  })
  const load = await Promise.race([result, failed('drive', child, stderr)])
  await stopProcess(child, CHILD_TIMEOUT_MS)
  return { load, leaderMicros }
}

/** Alternates windows without and with `spec.pages` pages open on the leader. */
export async function measureStatusPages(leader: Started, spec: StatusBenchSpec, log: (line: string) => void = () => {}): Promise<StatusBenchResult> {
  const windows: StatusWindow[] = []
  for (let run = 0; run < spec.runs; run++) {
    // Alternate which goes first, so that a drift over the run does not favour one side.
    const order = run % 2 === 0 ? [0, spec.pages] : [spec.pages, 0]
    for (const pages of order) {
      const held = pages === 0 ? null : await openPages(leader.url, pages)
      const { load, leaderMicros } = await drive(leader, spec)
      const eventsPerSecond = held === null ? 0 : await held.stop()
      const window: StatusWindow = {
        pages,
        load,
        leaderMicrosPerOp: leaderMicros / load.ops,
        eventsPerSecond,
      }
      windows.push(window)
      log(`run ${run + 1}/${spec.runs}, ${String(pages).padStart(3)} pages: ${Math.round(load.opsPerSecond).toLocaleString('en-US')} ops/s`)
    }
  }
  const opsOf = (pages: number): number => median(windows.filter((window) => window.pages === pages).map((window) => window.load.opsPerSecond))
  const withoutOpsPerSecond = opsOf(0)
  const withOpsPerSecond = opsOf(spec.pages)
  return { spec, windows, withoutOpsPerSecond, withOpsPerSecond, ratio: ratio(withOpsPerSecond, withoutOpsPerSecond) }
}

function table(result: StatusBenchResult): string {
  const rows = [0, result.spec.pages].map((pages) => {
    const windows = result.windows.filter((window) => window.pages === pages)
    const med = (pick: (window: StatusWindow) => number): number => median(windows.map(pick))
    return [
      String(pages).padStart(5),
      String(result.spec.concurrency).padStart(3),
      Math.round(med((window) => window.load.opsPerSecond)).toLocaleString('en-US').padStart(7),
      med((window) => window.load.p50Ms).toFixed(3).padStart(7),
      med((window) => window.load.p99Ms).toFixed(3).padStart(7),
      med((window) => window.leaderMicrosPerOp).toFixed(1).padStart(14),
      Math.round(med((window) => window.eventsPerSecond)).toLocaleString('en-US').padStart(9),
    ].join('  ')
  })
  return [`pages    c    ops/s   p50 ms  p99 ms  leader µs/op  events/s`, ...rows].join('\n')
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pages: { type: 'string', default: '100' },
      concurrency: { type: 'string', default: '16' },
      runs: { type: 'string', default: '3' },
      'window-ms': { type: 'string', default: '10000' },
      'warmup-ms': { type: 'string', default: '2000' },
      quick: { type: 'boolean', default: false },
    },
  })
  const spec: StatusBenchSpec = {
    pages: Number(values.pages),
    concurrency: Number(values.concurrency),
    runs: values.quick ? 2 : Number(values.runs),
    warmupMs: values.quick ? 1000 : Number(values['warmup-ms']),
    windowMs: values.quick ? 3000 : Number(values['window-ms']),
  }
  for (const [name, value] of Object.entries(spec)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`)
  }
  installCleanup()
  process.stdout.write(
    `status pages: 3 members on 127.0.0.1, ping ${TIMEOUTS.pingMs} ms; PUT /kv at the leader, c=${spec.concurrency}; ` +
      `windows of ${spec.windowMs / 1000} s without pages and with ${spec.pages} pages open on the leader, ${spec.runs} runs each\n`,
  )
  const island = await startIsland(TIMEOUTS, [])
  const leader = await island.leader()
  const result = await measureStatusPages(leader, spec, (line) => process.stdout.write(`  ${line}\n`))
  process.stdout.write(`${table(result)}\n`)
  const met = result.ratio >= STATUS_PAGES_TARGET
  process.stdout.write(
    `with ${spec.pages} pages open: ${result.ratio.toFixed(3)}x the commits per second without (target >= ${STATUS_PAGES_TARGET}): ${met ? 'met' : 'NOT met'}\n`,
  )
  const directory = fileURLToPath(new URL('../../bench/results/', import.meta.url))
  mkdirSync(directory, { recursive: true })
  const file = `${directory}status-${new Date().toISOString().replace(/[:.]/g, '-')}.json`
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)
  process.stdout.write(`raw windows: ${file}\n`)
  await Promise.all(island.members.map((member) => stopProcess(member.child, 5_000)))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`bench:status failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
      process.exit(1)
    },
  )
}
