// Bringing up what the benchmark measures, every process registered for
// cleanup: an island of `serve` processes, etcd clusters on disk and on
// tmpfs, etcd's own Go client (built here), the bare node:http limit server,
// an island of embedded members (bench/member.ts) driven over IPC, and a CPU
// hog.

import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnListening as spawnProcess } from '../src/cli/member-process.js'
import type { MemberCommand, MemberReply } from './member.js'
import { track, trackDirectory } from './processes.js'
import { sleep } from './stats.js'

const MAIN_PATH = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))
const LIMIT_PATH = fileURLToPath(new URL('./limit-server.js', import.meta.url))
const RELAY_PATH = fileURLToPath(new URL('./relay-server.js', import.meta.url))
const MEMBER_PATH = fileURLToPath(new URL('./member.js', import.meta.url))
const READY_TIMEOUT_MS = 20_000
const POLL_MS = 50
const STDERR_KEPT_BYTES = 8192

export interface Timeouts {
  /** Our ping and etcd's heartbeat interval. */
  readonly pingMs: number
  /** Our failure timeout and etcd's election timeout. */
  readonly timeoutMs: number
}

export interface Started {
  readonly name: string
  readonly child: ChildProcess
  readonly url: string
  stderrTail(): string
}

/** Spawns `command` (the one spawner, src/cli/member-process.ts), registered for cleanup; killed if it does not listen in time. */
async function spawnListening(name: string, command: string, args: readonly string[]): Promise<Started> {
  const started = spawnProcess({ name, command, args, readyTimeoutMs: READY_TIMEOUT_MS })
  track(started.child)
  try {
    return { name, child: started.child, url: await started.ready, stderrTail: () => started.stderrTail() }
  } catch (error) {
    started.kill('SIGKILL')
    throw new Error(`${error instanceof Error ? error.message : String(error)}:\n${started.stderrTail()}`)
  }
}

async function getJson(url: string, timeoutMs: number): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  return (await response.json()) as unknown
}

async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs = READY_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown = null
  while (Date.now() < deadline) {
    try {
      const value = await probe()
      if (value !== null) return value
    } catch (error) {
      last = error
    }
    await sleep(POLL_MS)
  }
  throw new Error(`${what} within ${timeoutMs} ms${last === null ? '' : `: ${String(last)}`}`)
}

interface HealthView {
  readonly colleagueId: string
  readonly leader: string | null
  readonly government: { readonly majority: readonly string[]; readonly minority: readonly string[] } | null
}

function parliamentSize(health: HealthView | null): number {
  const government = health?.government
  return government === null || government === undefined ? 0 : government.majority.length + government.minority.length
}

// -------------------------------------------------------------------- ours

export interface Island {
  readonly members: readonly Started[]
  /** The member process that leads, as its health said when the island settled. */
  leader(): Promise<Started>
}

/** A 3-member island of `paxos-colleague serve` processes on 127.0.0.1. */
/** `storage: 'disk'`: durable mode, each member with `--data-dir` under the system temp directory (where etcd on disk keeps its data). */
export async function startIsland(
  timeouts: Timeouts,
  nodeFlags: readonly string[],
  size = 3,
  storage: 'memory' | 'disk' = 'memory',
): Promise<Island> {
  const common = ['--island', 'bench', '--bind', '127.0.0.1:0', '--ping-ms', String(timeouts.pingMs), '--timeout-ms', String(timeouts.timeoutMs)]
  const dataDir = storage === 'disk' ? trackDirectory(mkdtempSync(join(tmpdir(), 'paxos-colleague-bench-ours-'))) : null
  const durable = (name: string): string[] => (dataDir === null ? [] : ['--data-dir', join(dataDir, name)])
  const members: Started[] = []
  const founder = await spawnListening('m1', process.execPath, [...nodeFlags, MAIN_PATH, 'serve', ...common, '--id', 'm1', '--bootstrap', ...durable('m1')])
  members.push(founder)
  for (let index = 2; index <= size; index++) {
    const name = `m${index}`
    members.push(
      await spawnListening(name, process.execPath, [...nodeFlags, MAIN_PATH, 'serve', ...common, '--id', name, '--join', founder.url, ...durable(name)]),
    )
  }
  await until('the island did not seat a parliament of 3', async () => {
    const health = (await getJson(`${founder.url}/health`, 1000)) as HealthView
    return parliamentSize(health) === size ? health : null
  })
  return {
    members,
    async leader() {
      for (const member of members) {
        if (member.child.exitCode !== null || member.child.signalCode !== null) continue
        const health = (await getJson(`${member.url}/health`, 1000)) as HealthView
        const found = members.find((candidate) => candidate.name === health.leader)
        if (found !== undefined) return found
      }
      throw new Error('no member names a leader')
    },
  }
}

// -------------------------------------------------------------------- etcd

export function etcdVersion(): string | null {
  try {
    const text = execFileSync('etcd', ['--version'], { encoding: 'utf8', timeout: 5000 })
    return /etcd Version: (\S+)/.exec(text)?.[1] ?? text.trim().split('\n')[0] ?? null
  } catch {
    return null
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

export interface EtcdMember {
  readonly name: string
  readonly child: ChildProcess
  readonly url: string
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[]
  readonly dataDir: string
  leader(): Promise<EtcdMember>
}

/** Where etcd keeps its data: the temporary directory (disk here), or tmpfs so it does not pay for a disk we do not write. */
export type EtcdStorage = 'disk' | 'tmpfs'

const TMPFS_DIR = '/dev/shm'

/** Whether etcd can be given a tmpfs data directory on this machine. */
export function tmpfsAvailable(): boolean {
  try {
    return statSync(TMPFS_DIR).isDirectory()
  } catch {
    return false
  }
}

/** A 3-member etcd cluster on 127.0.0.1 with its data in a fresh directory on `storage`. */
export async function startEtcd(timeouts: Timeouts, storage: EtcdStorage = 'disk', size = 3): Promise<EtcdCluster> {
  const parent = storage === 'tmpfs' ? TMPFS_DIR : tmpdir()
  const dataDir = trackDirectory(mkdtempSync(join(parent, 'paxos-colleague-bench-etcd-')))
  const names = Array.from({ length: size }, (_, index) => `e${index + 1}`)
  const ports = await Promise.all(names.map(async () => ({ client: await freePort(), peer: await freePort() })))
  const cluster = names.map((name, index) => `${name}=http://127.0.0.1:${ports[index]?.peer}`).join(',')
  const tails = new Map<string, string>()
  const members: EtcdMember[] = names.map((name, index) => {
    const { client, peer } = ports[index] as { client: number; peer: number }
    const url = `http://127.0.0.1:${client}`
    const child = track(
      spawn(
        'etcd',
        [
          '--name', name,
          '--data-dir', join(dataDir, name),
          '--listen-client-urls', url,
          '--advertise-client-urls', url,
          '--listen-peer-urls', `http://127.0.0.1:${peer}`,
          '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
          '--initial-cluster', cluster,
          '--initial-cluster-state', 'new',
          '--initial-cluster-token', `bench-${process.pid}`,
          '--heartbeat-interval', String(timeouts.pingMs),
          '--election-timeout', String(timeouts.timeoutMs),
          '--logger', 'zap',
          '--log-level', 'error',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      ),
    )
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => tails.set(name, ((tails.get(name) ?? '') + chunk).slice(-STDERR_KEPT_BYTES)))
    return { name, child, url }
  })
  const { Etcd3 } = await import('etcd3')
  const leader = async (): Promise<EtcdMember> => {
    for (const member of members) {
      if (member.child.exitCode !== null || member.child.signalCode !== null) continue
      const client = new Etcd3({ hosts: member.url, dialTimeout: 1000 })
      try {
        const status = await client.maintenance.status()
        if (String(status.leader) !== '0' && String(status.leader) === String(status.header.member_id)) return member
      } catch {
        // Not answering (yet): ask the next.
      } finally {
        client.close()
      }
    }
    throw new Error('no etcd member says it leads')
  }
  try {
    await until('the etcd cluster did not elect a leader', async () => {
      for (const member of members) {
        if (member.child.exitCode !== null) throw new Error(`${member.name} exited: ${tails.get(member.name) ?? ''}`)
      }
      return leader()
    })
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${[...tails.values()].join('\n')}`)
  }
  return { members, dataDir, leader }
}

// -------------------------------------------------------------------- the Go clients

const GO_SOURCE_DIR = fileURLToPath(new URL('../../bench/go-put/', import.meta.url))
const ETCD_GO_BINARY_PATH = fileURLToPath(new URL('./go-put-etcd', import.meta.url))
const HTTP_GO_BINARY_PATH = fileURLToPath(new URL('./go-put-http', import.meta.url))
/** Debian's golang-etcd-server-dev puts etcd's Go sources (clientv3 among them) in this GOPATH. */
const GO_PATH = '/usr/share/gocode'
const GO_BUILD_TIMEOUT_MS = 600_000
export const GO_CLIENT_INSTALL = 'sudo apt-get install -y golang-go golang-etcd-server-dev'

/** Builds bench/go-put offline (GOPATH mode, no module proxy) with `tags`; the binary's path, or why it could not. */
function buildGoPut(binaryPath: string, tags: readonly string[]): { path: string } | { missing: string } {
  try {
    execFileSync('go', ['build', ...(tags.length > 0 ? ['-tags', tags.join(',')] : []), '-o', binaryPath, '.'], {
      cwd: GO_SOURCE_DIR,
      env: { ...process.env, GO111MODULE: 'off', GOPATH: GO_PATH, GOFLAGS: '', GOPROXY: 'off' },
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: GO_BUILD_TIMEOUT_MS,
    })
    return { path: binaryPath }
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim()
    return { missing: `go build failed: ${stderr || (error as Error).message}` }
  }
}

/**
 * Builds bench/go-put with its etcd target (etcd's clientv3 driving the
 * closed loop) offline against the Debian sources; returns the binary's
 * path, or why it could not.
 */
export function buildEtcdGoClient(): { path: string } | { missing: string } {
  if (!existsSync(join(GO_PATH, 'src', 'go.etcd.io', 'etcd', 'clientv3'))) return { missing: `no clientv3 under ${GO_PATH}/src` }
  return buildGoPut(ETCD_GO_BINARY_PATH, ['etcd'])
}

/** Builds bench/go-put with its http target alone (Go's net/http against a PUT route): Go's standard library only. */
export function buildHttpGoClient(): { path: string } | { missing: string } {
  return buildGoPut(HTTP_GO_BINARY_PATH, [])
}

// -------------------------------------------------------------------- limit

export function startLimit(nodeFlags: readonly string[]): Promise<Started> {
  return spawnListening('limit', process.execPath, [...nodeFlags, LIMIT_PATH])
}

/** The relay floor: a relay in front of two bare peers (see relay-server.ts); the relay first, where the load goes. */
export async function startRelay(nodeFlags: readonly string[]): Promise<Started[]> {
  const peers = [await spawnListening('relay-peer-1', process.execPath, [...nodeFlags, LIMIT_PATH]), await spawnListening('relay-peer-2', process.execPath, [...nodeFlags, LIMIT_PATH])]
  const relay = await spawnListening('relay', process.execPath, [...nodeFlags, RELAY_PATH, ...peers.map((peer) => peer.url)])
  return [relay, ...peers]
}

// -------------------------------------------------------------------- embedded

export interface EmbeddedMember {
  readonly name: string
  readonly child: ChildProcess
  readonly url: string
  ask<T extends MemberReply['type']>(command: MemberCommand, expect: T, timeoutMs: number): Promise<Extract<MemberReply, { type: T }>>
}

function forkMember(name: string, nodeFlags: readonly string[]): Omit<EmbeddedMember, 'url'> {
  const child = track(fork(MEMBER_PATH, [], { execArgv: ['--expose-gc', ...nodeFlags], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }))
  const ask = <T extends MemberReply['type']>(
    command: MemberCommand,
    expect: T,
    timeoutMs: number,
  ): Promise<Extract<MemberReply, { type: T }>> =>
    new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer)
        child.off('message', onMessage)
        child.off('exit', onExit)
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`${name} did not answer ${command.type} within ${timeoutMs} ms`))
      }, timeoutMs)
      const onMessage = (reply: MemberReply): void => {
        if (reply.type === 'error') {
          cleanup()
          reject(new Error(`${name}: ${reply.message}`))
        } else if (reply.type === expect) {
          cleanup()
          resolve(reply as Extract<MemberReply, { type: T }>)
        }
      }
      const onExit = (): void => {
        cleanup()
        reject(new Error(`${name} exited`))
      }
      child.on('message', onMessage)
      child.once('exit', onExit)
      child.send(command)
    })
  return { name, child, ask }
}

export interface EmbeddedIsland {
  readonly members: readonly EmbeddedMember[]
  leader(): Promise<EmbeddedMember>
  follower(): Promise<EmbeddedMember>
}

export async function startEmbedded(timeouts: Timeouts, nodeFlags: readonly string[], size = 3): Promise<EmbeddedIsland> {
  const members: EmbeddedMember[] = []
  let founderUrl: string | null = null
  for (let index = 1; index <= size; index++) {
    const name = `x${index}`
    const forked = forkMember(name, nodeFlags)
    const { url }: { url: string } = await forked.ask(
      { type: 'start', id: name, bootstrap: index === 1, join: founderUrl, pingMs: timeouts.pingMs, timeoutMs: timeouts.timeoutMs },
      'ready',
      READY_TIMEOUT_MS,
    )
    founderUrl ??= url
    members.push({ ...forked, url })
  }
  const first = members[0] as EmbeddedMember
  const health = async (member: EmbeddedMember): Promise<HealthView> =>
    (await member.ask({ type: 'health' }, 'health', 2000)).health as HealthView
  await until('the embedded island did not seat a parliament of 3', async () =>
    parliamentSize(await health(first)) === size ? true : null,
  )
  const leader = async (): Promise<EmbeddedMember> => {
    const named = (await health(first)).leader
    const found = members.find((member) => member.name === named)
    if (found === undefined) throw new Error(`the embedded leader ${String(named)} is not one of ours`)
    return found
  }
  return {
    members,
    leader,
    async follower() {
      const lead = await leader()
      return members.find((member) => member !== lead) as EmbeddedMember
    },
  }
}

// -------------------------------------------------------------------- hog

/** A process that keeps one core busy (`for(;;)`) until stopped: a machine where something else runs too. */
export function startHog(): ChildProcess {
  return track(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }))
}
