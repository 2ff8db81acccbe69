// `npm run bench`: our island against etcd on this machine, side by side,
// with the embedded case, the loopback HTTP limit, a CPU hog, failover and
// memory. etcd is driven by its own Go client (on tmpfs and on disk) and by
// the etcd3 npm client (on disk); ours through undici and, in the `ours-go`
// rows, by the same closed loop written in Go (net/http).
// Usage: npm run bench -- [--quick] [--runs N] [--window-ms N] [--warmup-ms N]
//          [--only ours,ours-go,ours-disk,etcd-go,etcd-go-disk,etcd,limit,relay,embedded-leader,embedded-follower,restart]
//          [--concurrency 1,16,64] [--hog-concurrency 1,64] [--no-hog]
//          [--no-cells] [--no-failover] [--no-memory] [--profile]
//          [--restart-entries N] [--restart-snapshot-mb N]
// Prints the table and writes every raw run to bench/results/bench-<time>.json.

import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, platform, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { DriveSpec } from './drive.js'
import { etcdWriters, failover, httpWriters, type FailoverTrial } from './failover.js'
import type { LoadResult, LoadSpec } from './load.js'
import type { MemberReply } from './member.js'
import { cleanup, installCleanup, stopProcess } from './processes.js'
import { restartTime } from './restart.js'
import { median, ratio, sleep, totalCpuMicros } from './stats.js'
import {
  buildEtcdGoClient,
  buildHttpGoClient,
  etcdVersion,
  GO_CLIENT_INSTALL,
  startEmbedded,
  startEtcd,
  startIsland,
  startHog,
  startLimit,
  startRelay,
  tmpfsAvailable,
  type EmbeddedIsland,
  type EtcdCluster,
  type Island,
  type Started,
  type Timeouts,
} from './systems.js'

const SYSTEMS = ['ours', 'ours-go', 'ours-disk', 'etcd-go', 'etcd-go-disk', 'etcd', 'limit', 'relay', 'embedded-leader', 'embedded-follower'] as const
type System = (typeof SYSTEMS)[number]
/** What runs again with the CPU hog: ours against the fair anchor. */
const HOG_SYSTEMS: readonly System[] = ['ours', 'ours-go', 'etcd-go']

const LABELS: Record<System, string> = {
  ours: 'ours PUT /kv',
  'ours-go': 'ours PUT /kv (Go client)',
  'ours-disk': 'ours PUT /kv (--data-dir)',
  'etcd-go': 'etcd put (Go, tmpfs)',
  'etcd-go-disk': 'etcd put (Go, disk)',
  etcd: 'etcd put (etcd3, disk)',
  limit: 'limit: bare node:http',
  relay: 'floor: batching HTTP relay',
  'embedded-leader': 'ours enqueue, on leader',
  'embedded-follower': 'ours enqueue, on follower',
}
const HOG_SUFFIX = ' +hog'

const DRIVE_PATH = fileURLToPath(new URL('./drive.js', import.meta.url))
/** npm runs scripts from the package root; results go under it whatever directory the build is in. */
const RESULTS_DIR = join(process.cwd(), 'bench', 'results', '/')
const OP_TIMEOUT_MS = 10_000
const FAILOVER_CONCURRENCY = 16
const MEMORY_CONCURRENCY = 64
const MEMORY_FILL_TIMEOUT_MS = 240_000
const TIMEOUTS: Timeouts = { pingMs: 100, timeoutMs: 1000 }
/** Let the hog take its core before measuring beside it. */
const HOG_SETTLE_MS = 500

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    'window-ms': { type: 'string' },
    'warmup-ms': { type: 'string' },
    only: { type: 'string' },
    concurrency: { type: 'string', default: '1,16,64' },
    'hog-concurrency': { type: 'string', default: '1,64' },
    'no-hog': { type: 'boolean', default: false },
    'no-failover': { type: 'boolean', default: false },
    'no-memory': { type: 'boolean', default: false },
    'no-cells': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'restart-entries': { type: 'string' },
    'restart-snapshot-mb': { type: 'string' },
  },
})

const quick = args.quick
const runs = Number(args.runs ?? (quick ? 1 : 3))
const windowMs = Number(args['window-ms'] ?? (quick ? 3000 : 5000))
const warmupMs = Number(args['warmup-ms'] ?? (quick ? 1000 : 2000))
const concurrencies = args.concurrency.split(',').map(Number)
const hogConcurrencies = args['no-hog'] ? [] : args['hog-concurrency'].split(',').map(Number)
const memoryCheckpoint = 100_000
const memoryTotal = quick ? 300_000 : 1_000_000
const PROFILE_DIR = join(RESULTS_DIR, 'profiles')
const nodeFlags = args.profile ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : []
const etcdInstalled = etcdVersion() !== null
/** The restart time of a durable member (not a cell): on unless `--only` leaves it out. */
const restartWanted = args.only === undefined || args.only.split(',').includes('restart')
const restartEntries = Number(args['restart-entries'] ?? (quick ? 100_000 : 1_000_000))
const restartSnapshotMb = Number(args['restart-snapshot-mb'] ?? (quick ? 10 : 100))
const wanted = new Set<System>(
  (args.only?.split(',') ?? SYSTEMS).filter((name): name is System => (SYSTEMS as readonly string[]).includes(name)),
)
const tmpfs = tmpfsAvailable()
if (!etcdInstalled) for (const system of ['etcd', 'etcd-go', 'etcd-go-disk'] as const) wanted.delete(system)
if (!tmpfs) wanted.delete('etcd-go')

interface Cell extends LoadResult {
  readonly system: System
  readonly run: number
  /** Measured while the CPU hog kept one core busy. */
  readonly hog: boolean
  /** CPU of the serving processes during the window, per op (for embedded: all members, the driver included). */
  readonly serverCpuMicrosPerOp: number
}

function say(line: string): void {
  process.stdout.write(`${line}\n`)
}

// ------------------------------------------------------------------ cells

/** Runs one client process (bench/drive.ts, or `goClient`: a build of bench/go-put) and samples the servers' CPU over its window. */
function driveChild(spec: DriveSpec, serverPids: readonly number[], goClient: string | null = null): Promise<{ result: LoadResult; serverCpuMicros: number }> {
  return new Promise((resolve, reject) => {
    const child =
      goClient === null
        ? spawn(process.execPath, [DRIVE_PATH, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
        : spawn(goClient, [JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] })
    const limit = setTimeout(() => child.kill('SIGKILL'), spec.warmupMs + spec.windowMs + OP_TIMEOUT_MS * 2)
    let stdout = ''
    let stderr = ''
    let cpuStart: number | null = null
    let serverCpuMicros = Number.NaN
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => {
      stdout += chunk
      if (cpuStart === null && stdout.includes('window start\n')) cpuStart = totalCpuMicros(serverPids) ?? Number.NaN
      if (Number.isNaN(serverCpuMicros) && stdout.includes('window end\n') && cpuStart !== null) {
        serverCpuMicros = (totalCpuMicros(serverPids) ?? Number.NaN) - cpuStart
      }
    })
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4096)
    })
    child.once('exit', (code) => {
      clearTimeout(limit)
      const line = stdout.trim().split('\n').at(-1) ?? ''
      if (code !== 0 || !line.startsWith('{')) {
        reject(new Error(`driver exited ${code}: ${stderr}`))
        return
      }
      resolve({ result: JSON.parse(line) as LoadResult, serverCpuMicros })
    })
  })
}

async function embeddedCell(island: EmbeddedIsland, onLeader: boolean, spec: LoadSpec): Promise<{ result: LoadResult; serverCpuMicros: number }> {
  const driver = onLeader ? await island.leader() : await island.follower()
  const pids = island.members.map((member) => member.child.pid as number)
  let cpuStart = Number.NaN
  let serverCpuMicros = Number.NaN
  const onWindow = (reply: MemberReply): void => {
    if (reply.type !== 'window') return
    if (reply.phase === 'start') cpuStart = totalCpuMicros(pids) ?? Number.NaN
    else serverCpuMicros = (totalCpuMicros(pids) ?? Number.NaN) - cpuStart
  }
  driver.child.on('message', onWindow)
  try {
    const { result } = await driver.ask({ type: 'load', spec }, 'load', spec.warmupMs + spec.windowMs + OP_TIMEOUT_MS * 2)
    return { result: result as LoadResult, serverCpuMicros }
  } finally {
    driver.child.off('message', onWindow)
  }
}

interface Targets {
  island: Island | null
  islandDisk: Island | null
  /** On disk: the etcd3 rows and the Go client's disk rows. */
  etcd: EtcdCluster | null
  etcdTmpfs: EtcdCluster | null
  limit: Started | null
  /** The relay, then its two peers. */
  relay: Started[] | null
  embedded: EmbeddedIsland | null
  /** bench/go-put built with its etcd target (clientv3). */
  goClient: string | null
  /** bench/go-put built with its http target alone (net/http). */
  httpGoClient: string | null
}

async function runCell(targets: Targets, system: System, concurrency: number, run: number, hog: boolean): Promise<Cell> {
  const spec: LoadSpec = { concurrency, warmupMs, windowMs }
  let measured: { result: LoadResult; serverCpuMicros: number }
  switch (system) {
    case 'ours':
    case 'ours-go':
    case 'ours-disk': {
      const island = (system === 'ours-disk' ? targets.islandDisk : targets.island) as Island
      const leader = await island.leader()
      measured = await driveChild(
        { ...spec, target: 'http', url: leader.url, prefix: '/kv/', timeoutMs: OP_TIMEOUT_MS },
        island.members.map((member) => member.child.pid as number),
        system === 'ours-go' ? targets.httpGoClient : null,
      )
      break
    }
    case 'etcd': {
      const etcd = targets.etcd as EtcdCluster
      const leader = await etcd.leader()
      measured = await driveChild(
        { ...spec, target: 'etcd', url: leader.url, timeoutMs: OP_TIMEOUT_MS },
        etcd.members.map((member) => member.child.pid as number),
      )
      break
    }
    case 'etcd-go':
    case 'etcd-go-disk': {
      const etcd = (system === 'etcd-go' ? targets.etcdTmpfs : targets.etcd) as EtcdCluster
      const leader = await etcd.leader()
      measured = await driveChild(
        { ...spec, target: 'etcd', url: leader.url, timeoutMs: OP_TIMEOUT_MS },
        etcd.members.map((member) => member.child.pid as number),
        targets.goClient,
      )
      break
    }
    case 'limit': {
      const limit = targets.limit as Started
      measured = await driveChild({ ...spec, target: 'http', url: limit.url, prefix: '/kv/', timeoutMs: OP_TIMEOUT_MS }, [limit.child.pid as number])
      break
    }
    case 'relay': {
      const [relay] = targets.relay as Started[]
      measured = await driveChild(
        { ...spec, target: 'http', url: (relay as Started).url, prefix: '/kv/', timeoutMs: OP_TIMEOUT_MS },
        (targets.relay as Started[]).map((started) => started.child.pid as number),
      )
      break
    }
    case 'embedded-leader':
    case 'embedded-follower':
      measured = await embeddedCell(targets.embedded as EmbeddedIsland, system === 'embedded-leader', spec)
      break
  }
  const { result, serverCpuMicros } = measured
  return { ...result, system, run, hog, serverCpuMicrosPerOp: serverCpuMicros / result.ops }
}

// ------------------------------------------------------------------ report

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-'
}

function thousands(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-'
}

interface Row {
  readonly system: System
  readonly concurrency: number
  readonly hog: boolean
  readonly runs: number
  readonly opsPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly clientCpuMicrosPerOp: number
  readonly serverCpuMicrosPerOp: number
  readonly errors: number
}

function summarize(cells: readonly Cell[]): Row[] {
  const rows: Row[] = []
  for (const hog of [false, true]) {
    for (const system of SYSTEMS) {
      for (const concurrency of [...new Set([...concurrencies, ...hogConcurrencies])].sort((a, b) => a - b)) {
        const mine = cells.filter((cell) => cell.system === system && cell.concurrency === concurrency && cell.hog === hog)
        if (mine.length === 0) continue
        rows.push({
          system,
          concurrency,
          hog,
          runs: mine.length,
          opsPerSecond: median(mine.map((cell) => cell.opsPerSecond)),
          p50Ms: median(mine.map((cell) => cell.p50Ms)),
          p99Ms: median(mine.map((cell) => cell.p99Ms)),
          clientCpuMicrosPerOp: median(mine.map((cell) => cell.cpuMicrosPerOp)),
          serverCpuMicrosPerOp: median(mine.map((cell) => cell.serverCpuMicrosPerOp)),
          errors: mine.reduce((sum, cell) => sum + cell.errors, 0),
        })
      }
    }
  }
  return rows
}

function finder(rows: readonly Row[]): (system: System, concurrency: number, hog?: boolean) => Row | undefined {
  return (system, concurrency, hog = false) =>
    rows.find((row) => row.system === system && row.concurrency === concurrency && row.hog === hog)
}

function table(rows: readonly Row[]): string {
  const find = finder(rows)
  const header = ['system', 'c', 'ops/s', 'p50 ms', 'p99 ms', 'client µs/op', 'servers µs/op', 'ops vs etcd-go', 'p50 vs etcd-go', 'ops vs limit']
  const lines = rows.map((row) => {
    const ours = row.system.startsWith('ours') || row.system.startsWith('embedded') || row.system === 'relay'
    const anchor = find('etcd-go', row.concurrency, row.hog)
    const limit = find('limit', row.concurrency, row.hog)
    return [
      LABELS[row.system] + (row.hog ? HOG_SUFFIX : '') + (row.errors > 0 ? ` (${row.errors} errors)` : ''),
      String(row.concurrency),
      thousands(row.opsPerSecond),
      fixed(row.p50Ms, 3),
      fixed(row.p99Ms, 3),
      fixed(row.clientCpuMicrosPerOp, 1),
      fixed(row.serverCpuMicrosPerOp, 1),
      ours && anchor !== undefined ? `${fixed(ratio(row.opsPerSecond, anchor.opsPerSecond), 2)}x` : '',
      ours && anchor !== undefined ? `${fixed(ratio(row.p50Ms, anchor.p50Ms), 2)}x` : '',
      ours && limit !== undefined ? `${fixed(ratio(row.opsPerSecond, limit.opsPerSecond), 2)}x` : '',
    ]
  })
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => (line[column] ?? '').length)))
  const format = (cells: readonly string[]): string =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join('  ')
  return [format(header), format(widths.map((width) => '-'.repeat(width))), ...lines.map(format)].join('\n')
}

// ------------------------------------------------------------------ failover and memory

interface FailoverReport {
  readonly system: 'ours' | 'etcd'
  readonly trials: FailoverTrial[]
}

async function failoverOurs(island: Island): Promise<FailoverTrial> {
  const leader = await island.leader()
  return failover(
    httpWriters(island.members.map((member) => member.url), TIMEOUTS.timeoutMs * 2),
    () => {
      leader.child.kill('SIGKILL')
      return leader.name
    },
    { concurrency: FAILOVER_CONCURRENCY, beforeMs: 1500, deadlineMs: 15_000 },
  )
}

async function failoverEtcd(etcd: EtcdCluster): Promise<FailoverTrial> {
  const leader = await etcd.leader()
  return failover(
    await etcdWriters(etcd.members.map((member) => member.url), TIMEOUTS.timeoutMs * 2),
    () => {
      leader.child.kill('SIGKILL')
      return leader.name
    },
    { concurrency: FAILOVER_CONCURRENCY, beforeMs: 1500, deadlineMs: 15_000 },
  )
}

interface MemoryReport {
  readonly total: number
  readonly checkpoint: number
  readonly reached: number
  readonly entriesPerSecond: number
  /** RSS in bytes of every member after each `checkpoint` entries. */
  readonly series: number[][]
  /** Per member: RSS in bytes (after a forced GC) before, after `checkpoint`, after `total`. */
  readonly members: {
    name: string
    leader: boolean
    before: number
    atCheckpoint: number
    atTotal: number
    heapAtCheckpoint: number
    heapAtTotal: number
    /** V8's reserved heap (heapTotal): what the JS heap holds of the RSS, used or not. */
    heapTotalAtCheckpoint: number
    heapTotalAtTotal: number
  }[]
}

async function memoryRun(): Promise<MemoryReport> {
  const island = await startEmbedded(TIMEOUTS, nodeFlags)
  try {
    const leader = await island.leader()
    const sample = async (): Promise<{ rss: number; heapUsed: number; heapTotal: number }[]> =>
      Promise.all(island.members.map(async (member) => await member.ask({ type: 'memory' }, 'memory', 10_000)))
    const before = await sample()
    const series: number[][] = []
    let atCheckpoint = before
    let reached = 0
    let elapsedMs = 0
    // Fills of `memoryCheckpoint` entries each; RSS of every member after each.
    const steps = Math.ceil(memoryTotal / memoryCheckpoint)
    for (let step = 1; step <= steps; step++) {
      const fill = await leader.ask(
        { type: 'fill', count: memoryCheckpoint, concurrency: MEMORY_CONCURRENCY, timeoutMs: MEMORY_FILL_TIMEOUT_MS / steps },
        'fill',
        MEMORY_FILL_TIMEOUT_MS / steps + OP_TIMEOUT_MS,
      )
      reached += fill.done
      elapsedMs += fill.elapsedMs
      const now = await sample()
      series.push(now.map((usage) => usage.rss))
      if (step === 1) atCheckpoint = now
      if (fill.timedOut) break
    }
    const atTotal = await sample()
    return {
      total: memoryTotal,
      checkpoint: memoryCheckpoint,
      reached,
      entriesPerSecond: (reached * 1000) / elapsedMs,
      series,
      members: island.members.map((member, index) => ({
        name: member.name,
        leader: member === leader,
        before: before[index]?.rss ?? Number.NaN,
        atCheckpoint: atCheckpoint[index]?.rss ?? Number.NaN,
        atTotal: atTotal[index]?.rss ?? Number.NaN,
        heapAtCheckpoint: atCheckpoint[index]?.heapUsed ?? Number.NaN,
        heapAtTotal: atTotal[index]?.heapUsed ?? Number.NaN,
        heapTotalAtCheckpoint: atCheckpoint[index]?.heapTotal ?? Number.NaN,
        heapTotalAtTotal: atTotal[index]?.heapTotal ?? Number.NaN,
      })),
    }
  } finally {
    await Promise.all(island.members.map((member) => stopProcess(member.child, 3000)))
  }
}

// ------------------------------------------------------------------ machine

function versionOf(name: string): string {
  try {
    const path = join(process.cwd(), 'node_modules', name, 'package.json')
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version
  } catch {
    return '?'
  }
}

function goVersion(): string {
  try {
    return execFileSync('go', ['env', 'GOVERSION'], { encoding: 'utf8', timeout: 5000 }).trim()
  } catch {
    return 'not installed'
  }
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', timeout: 5000 }).trim()
  } catch {
    return '?'
  }
}

function machine(): Record<string, string | number> {
  const cpu = cpus()
  return {
    date: new Date().toISOString(),
    cpu: `${cpu.length} x ${cpu[0]?.model ?? '?'}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    etcd: etcdVersion() ?? 'not installed',
    etcd3: versionOf('etcd3'),
    go: goVersion(),
    undici: versionOf('undici'),
  }
}

// ------------------------------------------------------------------ main

async function main(): Promise<number> {
  installCleanup()
  const about = machine()
  about.paxosColleague = `${(JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { version: string }).version} (${gitCommit()})`
  say(`paxos-colleague benchmark${quick ? ' (--quick)' : ''}: ${runs} run(s) a cell, ${warmupMs} ms warm-up, ${windowMs} ms windows, concurrency ${concurrencies.join(', ')}`)
  say(Object.entries(about).map(([key, value]) => `${key}: ${value}`).join('; '))
  say(`timeouts on both sides: ping/heartbeat ${TIMEOUTS.pingMs} ms, failure/election timeout ${TIMEOUTS.timeoutMs} ms`)
  if (!etcdInstalled) {
    say('etcd is not installed: skipping it. To compare, install it (Debian/Ubuntu: sudo apt-get install -y etcd-server) and run again.')
  }
  if (etcdInstalled && !tmpfs) say('no tmpfs at /dev/shm: skipping etcd on tmpfs.')
  const targets: Targets = { island: null, islandDisk: null, etcd: null, etcdTmpfs: null, limit: null, relay: null, embedded: null, goClient: null, httpGoClient: null }
  if (wanted.has('etcd-go') || wanted.has('etcd-go-disk')) {
    const built = buildEtcdGoClient()
    if ('path' in built) targets.goClient = built.path
    else {
      say(`etcd's Go client could not be built (${built.missing}): skipping the Go rows. To compare, install it (Debian/Ubuntu: ${GO_CLIENT_INSTALL}) and run again.`)
      wanted.delete('etcd-go')
      wanted.delete('etcd-go-disk')
    }
  }
  if (wanted.has('ours-go')) {
    const built = buildHttpGoClient()
    if ('path' in built) targets.httpGoClient = built.path
    else {
      say(`the Go HTTP client could not be built (${built.missing}): skipping the ours-go rows. To add them, install Go (Debian/Ubuntu: sudo apt-get install -y golang-go) and run again.`)
      wanted.delete('ours-go')
    }
  }
  if (wanted.has('ours') || wanted.has('ours-go')) targets.island = await startIsland(TIMEOUTS, nodeFlags)
  if (wanted.has('ours-disk')) targets.islandDisk = await startIsland(TIMEOUTS, nodeFlags, 3, 'disk')
  if (wanted.has('etcd') || wanted.has('etcd-go-disk')) targets.etcd = await startEtcd(TIMEOUTS, 'disk')
  if (wanted.has('etcd-go')) targets.etcdTmpfs = await startEtcd(TIMEOUTS, 'tmpfs')
  if (wanted.has('limit')) targets.limit = await startLimit([])
  if (wanted.has('relay')) targets.relay = await startRelay([])
  if (wanted.has('embedded-leader') || wanted.has('embedded-follower')) targets.embedded = await startEmbedded(TIMEOUTS, nodeFlags)

  const cells: Cell[] = []
  const order = SYSTEMS.filter((system) => wanted.has(system))
  const hogOrder = order.filter((system) => HOG_SYSTEMS.includes(system))
  const measure = async (system: System, concurrency: number, run: number, hog: boolean): Promise<void> => {
    const cell = await runCell(targets, system, concurrency, run, hog)
    cells.push(cell)
    say(
      `run ${run} ${(LABELS[system] + (hog ? HOG_SUFFIX : '')).padEnd(31)} c=${String(concurrency).padStart(2)}: ${thousands(cell.opsPerSecond).padStart(7)} ops/s, ` +
        `p50 ${fixed(cell.p50Ms, 3)} ms, p99 ${fixed(cell.p99Ms, 3)} ms${cell.errors > 0 ? `, ${cell.errors} errors (${cell.firstError})` : ''}`,
    )
  }
  for (let run = 1; run <= (args['no-cells'] ? 0 : runs); run++) {
    for (const concurrency of concurrencies) {
      // Interleaved A B A B: every system once per round, so drift in the machine hits all alike.
      for (const system of order) await measure(system, concurrency, run, false)
    }
    if (hogOrder.length > 0 && hogConcurrencies.length > 0) {
      const hog = startHog()
      try {
        await sleep(HOG_SETTLE_MS)
        for (const concurrency of hogConcurrencies) {
          for (const system of hogOrder) await measure(system, concurrency, run, true)
        }
      } finally {
        await stopProcess(hog, 3000)
      }
    }
  }

  const failovers: FailoverReport[] = []
  if (!args['no-failover'] && (targets.island !== null || targets.etcd !== null)) {
    const ours: FailoverReport = { system: 'ours', trials: [] }
    const etcd: FailoverReport = { system: 'etcd', trials: [] }
    for (let trial = 1; trial <= runs; trial++) {
      // The first trial kills the leader of the benchmarked cluster; later ones start fresh clusters.
      if (targets.island !== null || trial > 1) {
        const island = trial === 1 && targets.island !== null ? targets.island : await startIsland(TIMEOUTS, nodeFlags)
        const result = await failoverOurs(island)
        ours.trials.push(result)
        say(`failover ours trial ${trial}: killed ${result.killed}, first write after ${fixed(result.firstWriteMs ?? Number.NaN, 0)} ms`)
        await Promise.all(island.members.map((member) => stopProcess(member.child, 3000)))
      }
      if (etcdInstalled && (targets.etcd !== null || trial > 1 || !wanted.has('etcd'))) {
        const cluster = trial === 1 && targets.etcd !== null ? targets.etcd : await startEtcd(TIMEOUTS, 'disk')
        const result = await failoverEtcd(cluster)
        etcd.trials.push(result)
        say(`failover etcd trial ${trial}: killed ${result.killed}, first write after ${fixed(result.firstWriteMs ?? Number.NaN, 0)} ms`)
        await Promise.all(cluster.members.map((member) => stopProcess(member.child, 3000)))
      }
    }
    targets.island = null
    targets.etcd = null
    failovers.push(ours, etcd)
  }

  if (targets.embedded !== null) await Promise.all(targets.embedded.members.map((member) => stopProcess(member.child, 3000)))
  if (targets.limit !== null) await stopProcess(targets.limit.child, 3000)
  if (targets.relay !== null) await Promise.all(targets.relay.map((started) => stopProcess(started.child, 3000)))
  if (targets.island !== null) await Promise.all(targets.island.members.map((member) => stopProcess(member.child, 3000)))
  if (targets.islandDisk !== null) await Promise.all(targets.islandDisk.members.map((member) => stopProcess(member.child, 3000)))
  if (targets.etcd !== null) await Promise.all(targets.etcd.members.map((member) => stopProcess(member.child, 3000)))
  if (targets.etcdTmpfs !== null) await Promise.all(targets.etcdTmpfs.members.map((member) => stopProcess(member.child, 3000)))

  const memory = args['no-memory'] ? null : await memoryRun()
  const restart = restartWanted
    ? await restartTime({ entries: restartEntries, snapshotBytes: restartSnapshotMb * 2 ** 20, runs: quick ? 1 : Math.min(runs, 2) })
    : null

  // ---------------------------------------------------------------- report
  const rows = summarize(cells)
  const lines: string[] = []
  lines.push('', `Throughput and latency (median of ${runs} run(s); ${windowMs / 1000} s windows; 100-byte values; 3 members on 127.0.0.1):`, '')
  lines.push(table(rows), '')
  lines.push('client µs/op: CPU of the process issuing the operations, per operation (embedded: the member itself).')
  lines.push('servers µs/op: CPU of all serving processes together, per operation (embedded: all three members).')
  lines.push(`etcd-go: etcd on tmpfs driven by its own Go client (clientv3), the fair anchor; ${HOG_SUFFIX.trim()}: with a for(;;) process keeping one core busy.`)
  lines.push('ours PUT /kv is driven through undici (Node); ours PUT /kv (Go client) by the same closed loop in Go (net/http), the language of etcd\'s client.')
  for (const report of failovers) {
    if (report.trials.length === 0) continue
    const times = report.trials.map((trial) => trial.firstWriteMs ?? Number.NaN)
    lines.push(
      `failover ${report.system.padEnd(4)}: SIGKILL leader under load (c=${FAILOVER_CONCURRENCY}), first write after ` +
        `${fixed(median(times), 0)} ms median (${times.map((time) => fixed(time, 0)).join(', ')}); ` +
        `timeout ${TIMEOUTS.timeoutMs} ms, ratio ${fixed(median(times) / TIMEOUTS.timeoutMs, 2)}x`,
    )
  }
  if (memory !== null) {
    lines.push(
      `memory: ${memory.reached.toLocaleString('en-US')} of ${memory.total.toLocaleString('en-US')} embedded enqueues on the leader (c=${MEMORY_CONCURRENCY}, ` +
        `${thousands(memory.entriesPerSecond)}/s); RSS after a forced GC:`,
    )
    for (const member of memory.members) {
      const mib = (bytes: number): string => `${fixed(bytes / 2 ** 20, 1)} MiB`
      lines.push(
        `  ${member.name}${member.leader ? ' (leader)' : '         '}: before ${mib(member.before)}, after ${memory.checkpoint.toLocaleString('en-US')} ` +
          `${mib(member.atCheckpoint)}, after ${memory.reached.toLocaleString('en-US')} ${mib(member.atTotal)} ` +
          `(${fixed((100 * (member.atTotal - member.atCheckpoint)) / member.atCheckpoint, 1)}%; heap used ${mib(member.heapAtCheckpoint)} -> ${mib(member.heapAtTotal)}, reserved ${mib(member.heapTotalAtCheckpoint)} -> ${mib(member.heapTotalAtTotal)})`,
      )
    }
    lines.push(`  RSS MiB (x1/x2/x3) after each ${memory.checkpoint.toLocaleString('en-US')}: ${memory.series.map((rss) => rss.map((bytes) => fixed(bytes / 2 ** 20, 0)).join('/')).join(', ')}`)
  }
  if (restart !== null) {
    lines.push(
      `restart of a durable member: ${restart.entries.toLocaleString('en-US')} log entries after a ${fixed(restart.snapshotBytes / 2 ** 20, 0)} MiB snapshot ` +
        `(${fixed(restart.logBytes / 2 ** 20, 0)} MiB of log), spawn to serving: ${fixed(restart.medianMs / 1000, 2)} s median (${restart.restartMs.map((ms) => fixed(ms / 1000, 2)).join(', ')} s)`,
    )
  }
  lines.push('', ...durableLines(rows))
  lines.push('', ...targetLines(rows, cells, failovers, memory))
  say(lines.join('\n'))

  mkdirSync(RESULTS_DIR, { recursive: true })
  const file = `${RESULTS_DIR}bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`
  writeFileSync(
    file,
    `${JSON.stringify({ machine: about, settings: { quick, runs, windowMs, warmupMs, concurrencies, hogConcurrencies, timeouts: TIMEOUTS }, cells, rows, failovers, memory, restart }, null, 2)}\n`,
  )
  say(`\nraw runs: ${file}`)
  return 0
}

/** Durable mode against etcd on the same disk, both its clients. */
function durableLines(rows: readonly Row[]): string[] {
  const find = finder(rows)
  const lines = ['Durable mode (--data-dir, fdatasync before acknowledging) against etcd on the same disk, same run:']
  for (const concurrency of concurrencies) {
    const ours = find('ours-disk', concurrency)
    if (ours === undefined) continue
    for (const anchor of ['etcd', 'etcd-go-disk'] as const) {
      const etcd = find(anchor, concurrency)
      if (etcd === undefined) continue
      lines.push(
        `  c=${String(concurrency).padStart(2)} vs ${LABELS[anchor].padEnd(22)}: ops/s ${fixed(ratio(ours.opsPerSecond, etcd.opsPerSecond), 2)}x ` +
          `(${thousands(ours.opsPerSecond)} vs ${thousands(etcd.opsPerSecond)}), p50 ${fixed(ratio(ours.p50Ms, etcd.p50Ms), 2)}x ` +
          `(${fixed(ours.p50Ms, 3)} vs ${fixed(etcd.p50Ms, 3)} ms)`,
      )
    }
  }
  return lines
}

/**
 * The ratio of `system`'s figure to `anchor`'s in each run, in run order: the
 * two cells of one run were measured moments apart, so the machine's mood
 * (with both cores busy, this one's sometimes runs each core about 1.55x
 * slower) weighs on both alike, which a ratio of medians taken over all the
 * runs does not promise.
 */
function runByRun(
  cells: readonly Cell[],
  system: System,
  anchor: System,
  concurrency: number,
  hog: boolean,
  figure: (cell: Cell) => number,
  format: (value: number) => string = (value) => `${fixed(value, 2)}x`,
): string {
  const of = (wanted: System): Map<number, Cell> =>
    new Map(cells.filter((cell) => cell.system === wanted && cell.concurrency === concurrency && cell.hog === hog).map((cell) => [cell.run, cell]))
  const mine = of(system)
  const theirs = of(anchor)
  const ratios: string[] = []
  for (const [run, cell] of [...mine].sort((a, b) => a[0] - b[0])) {
    const other = theirs.get(run)
    if (other !== undefined) ratios.push(format(ratio(figure(cell), figure(other))))
  }
  return ratios.length > 1 ? `; run by run ${ratios.join(', ')}` : ''
}

function targetLines(rows: readonly Row[], cells: readonly Cell[], failovers: readonly FailoverReport[], memory: MemoryReport | null): string[] {
  const find = finder(rows)
  const verdict = (ok: boolean | null): string => (ok === null ? 'n/a ' : ok ? 'MET ' : 'MISS')
  const check = (value: number, ok: (value: number) => boolean): string => verdict(Number.isFinite(value) ? ok(value) : null)
  const ms = (row: Row | undefined): string => fixed(row?.p50Ms ?? Number.NaN, 3)
  const ops = (row: Row | undefined): string => thousands(row?.opsPerSecond ?? Number.NaN)
  const lines = ['Targets (against etcd on tmpfs with its Go client, same run):']
  for (const [hog, client] of [[false, 'ours'], [true, 'ours'], [false, 'ours-go'], [true, 'ours-go']] as const) {
    if (client === 'ours-go' && find(client, 1, hog) === undefined && find(client, 64, hog) === undefined) continue
    const suffix = `${client === 'ours-go' ? ', both driven from Go' : ''}${hog ? ' with the CPU hog' : ''}`
    const ours1 = find(client, 1, hog)
    const etcd1 = find('etcd-go', 1, hog)
    const p50 = ratio(ours1?.p50Ms ?? Number.NaN, etcd1?.p50Ms ?? Number.NaN)
    const p50Bound = hog ? 1 : 0.6
    const p50Runs = runByRun(cells, client, 'etcd-go', 1, hog, (cell) => cell.p50Ms)
    lines.push(`  ${check(p50, (value) => value <= p50Bound)} PUT /kv c=1 p50 <= ${p50Bound}x etcd${suffix}: ${fixed(p50, 2)}x (${ms(ours1)} vs ${ms(etcd1)} ms${p50Runs})`)
    const ours64 = find(client, 64, hog)
    const etcd64 = find('etcd-go', 64, hog)
    const put64 = ratio(ours64?.opsPerSecond ?? Number.NaN, etcd64?.opsPerSecond ?? Number.NaN)
    const put64Bound = hog ? 1 : 1.5
    const put64Runs = runByRun(cells, client, 'etcd-go', 64, hog, (cell) => cell.opsPerSecond)
    lines.push(`  ${check(put64, (value) => value >= put64Bound)} PUT /kv c=64 ops/s >= ${put64Bound}x etcd${suffix}: ${fixed(put64, 2)}x (${ops(ours64)} vs ${ops(etcd64)}/s${put64Runs})`)
  }
  // Not targets: a write that crosses the same two hops, batched the same way, with no consensus at
  // all is the floor of ours; against the same anchor it says how far 0.6x and 1.5x are.
  const relay1 = find('relay', 1)
  const etcd1 = find('etcd-go', 1)
  if (relay1 !== undefined && etcd1 !== undefined) {
    lines.push(`  note the floor at c=1 (batching HTTP relay to 2 peers, no consensus): p50 ${fixed(ratio(relay1.p50Ms, etcd1.p50Ms), 2)}x etcd (${ms(relay1)} vs ${ms(etcd1)} ms)`)
  }
  const relay64 = find('relay', 64)
  const etcd64 = find('etcd-go', 64)
  if (relay64 !== undefined && etcd64 !== undefined) {
    lines.push(`  note the floor at c=64 (batching HTTP relay to 2 peers, no consensus): ${fixed(ratio(relay64.opsPerSecond, etcd64.opsPerSecond), 2)}x etcd's ops/s (${ops(relay64)} vs ${ops(etcd64)}/s)`)
  }
  const ours64 = find('ours', 64)
  const limit64 = find('limit', 64)
  const ofLimit = ratio(ours64?.opsPerSecond ?? Number.NaN, limit64?.opsPerSecond ?? Number.NaN)
  const ofLimitRuns = runByRun(cells, 'ours', 'limit', 64, false, (cell) => cell.opsPerSecond, (value) => `${fixed(100 * value, 0)}%`)
  lines.push(`  ${check(ofLimit, (value) => value >= 0.5)} PUT /kv c=64 ops/s >= 50% of the bare HTTP limit: ${fixed(100 * ofLimit, 0)}% (${ops(ours64)} vs ${ops(limit64)}/s${ofLimitRuns})`)
  for (const concurrency of [1, 64]) {
    const ours = find('ours', concurrency)?.serverCpuMicrosPerOp ?? Number.NaN
    const etcd = find('etcd-go', concurrency)?.serverCpuMicrosPerOp ?? Number.NaN
    lines.push(`  ${check(ratio(ours, etcd), (value) => value < 1)} servers' CPU per write c=${concurrency} below etcd's: ${fixed(ours, 0)} vs ${fixed(etcd, 0)} µs (${fixed(ratio(ours, etcd), 2)}x)`)
  }
  const embedded1 = find('embedded-leader', 1)?.p50Ms ?? Number.NaN
  lines.push(`  ${check(embedded1, (value) => value < 0.35)} embedded enqueue on leader c=1 p50 < 0.35 ms: ${fixed(embedded1, 3)} ms`)
  const embedded64 = find('embedded-leader', 64)?.opsPerSecond ?? Number.NaN
  lines.push(`  ${check(embedded64, (value) => value >= 100_000)} embedded enqueue on leader c=64 >= 100,000/s: ${thousands(embedded64)}/s`)
  const ours = failovers.find((report) => report.system === 'ours')
  const oursTime = ours === undefined ? Number.NaN : median(ours.trials.map((trial) => trial.firstWriteMs ?? Number.NaN))
  lines.push(`  ${verdict(ours === undefined || ours.trials.length === 0 ? null : oursTime <= 1.5 * TIMEOUTS.timeoutMs)} failover <= 1.5x timeout (${1.5 * TIMEOUTS.timeoutMs} ms): ${fixed(oursTime, 0)} ms median`)
  if (memory === null) lines.push(`  ${verdict(null)} RSS after 1M within 10% of after 100k`)
  else {
    const worst = Math.max(...memory.members.map((member) => (member.atTotal - member.atCheckpoint) / member.atCheckpoint))
    lines.push(
      `  ${verdict(memory.reached === memory.total ? worst <= 0.1 : false)} RSS after ${memory.total.toLocaleString('en-US')} within 10% of after ${memory.checkpoint.toLocaleString('en-US')}: worst member ${fixed(100 * worst, 1)}%`,
    )
  }
  return lines
}

main().then(
  (code) => {
    cleanup()
    process.exit(code)
  },
  (error: unknown) => {
    process.stderr.write(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    cleanup()
    process.exit(1)
  },
)
