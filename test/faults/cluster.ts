// An island of real `serve` processes on loopback, each behind its own fault
// proxy: peers reach a member only through its proxy (its --location), while
// clients and the harness talk to it directly. Every process started here is
// stopped by close(), also after a failure, and dies with its parent through
// the IPC channel if the harness itself is killed.

import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FaultProxy, type FaultRule, type LinkFault } from './fault-proxy.js'
import { spawnMember, type Exit } from '../../src/cli/member-process.js'
import type { Government } from '../../src/paxos/types.js'
import { reservedPort } from '../ports.js'

/** libfaketime where Debian puts it, or null when it is not installed. */
export const LIBFAKETIME =
  ['x86_64-linux-gnu', 'aarch64-linux-gnu', '.']
    .map((arch) => `/usr/lib/${arch}/faketime/libfaketime.so.1`)
    .find((path) => existsSync(path)) ?? null

const READY_TIMEOUT_MS = 20_000
const HEALTH_TIMEOUT_MS = 1_000
const STOP_TIMEOUT_MS = 3_000
const POLL_MS = 50

export interface ClusterOptions {
  readonly island: string
  readonly pingMs: number
  readonly timeoutMs: number
  readonly secret?: string
  readonly logLevel?: string
}

export type { Exit }

export interface StartOptions {
  /** Join through this member (through its proxy); absent: bootstrap. */
  readonly joinVia?: string
  /** Environment for a faked clock, e.g. { FAKETIME: '+30s x1.5' }. */
  readonly fakeTime?: string
  /** Do not wait for "listening": the caller watches `ready` and `exited` itself. */
  readonly noWait?: boolean
}

export interface Member {
  readonly id: string
  readonly proxy: FaultProxy
  /** Direct URL (not through the proxy): clients and the harness use it. */
  readonly url: string
  readonly port: number
  readonly child: ChildProcess
  readonly exited: Promise<Exit>
  readonly ready: Promise<void>
  alive: boolean
  stopped: boolean
  stderrTail(): string
}

export interface Health {
  readonly colleagueId: string
  readonly state: string
  readonly islandId: string | null
  readonly leader: string | null
  readonly isLeader: boolean
  readonly naturalized: boolean
  readonly government: Government | null
  readonly positions: { readonly commit: number; readonly applied: number; readonly backlog: number }
  readonly requests: Readonly<Record<string, number>>
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export class Cluster {
  readonly options: ClusterOptions
  readonly members = new Map<string, Member>()
  /** Directed link faults, `${from}>${to}`; a missing link passes. */
  readonly links = new Map<string, LinkFault>()
  /** Route-specific rules that take precedence (e.g. hold /oob only). */
  readonly routeRules = new Map<string, FaultRule>()
  readonly #retired: Member[] = []
  #secretDir: string | null = null
  #secretFile: string | null = null

  constructor(options: ClusterOptions) {
    this.options = options
  }

  /** Starts `size` members: the first bootstraps, the rest join through it; resolves once parliament holds them. */
  static async start(
    options: ClusterOptions,
    ids: readonly string[],
    parliament: number,
    perMember: Readonly<Record<string, StartOptions>> = {},
  ): Promise<Cluster> {
    const cluster = new Cluster(options)
    try {
      const [first, ...rest] = ids
      if (first === undefined) throw new Error('no members')
      await cluster.startMember(first, perMember[first])
      for (const id of rest) await cluster.startMember(id, { ...perMember[id], joinVia: first })
      await cluster.waitFor(`parliament of ${parliament}`, 20_000, async () => {
        const health = await cluster.health(first)
        const government = health?.government
        if (government === null || government === undefined) return false
        const voters = government.majority.length + government.minority.length
        return voters === parliament && government.naturalized.length === ids.length
      })
      await cluster.waitConverged(10_000)
    } catch (error) {
      await cluster.close()
      throw error
    }
    return cluster
  }

  async secretFile(): Promise<string | null> {
    if (this.options.secret === undefined) return null
    if (this.#secretFile !== null) return this.#secretFile
    this.#secretDir = await mkdtemp(join(tmpdir(), 'paxos-faults-'))
    this.#secretFile = join(this.#secretDir, 'secret')
    await writeFile(this.#secretFile, this.options.secret, { mode: 0o600 })
    return this.#secretFile
  }

  async startMember(id: string, start: StartOptions = {}): Promise<Member> {
    const old = this.members.get(id)
    if (old !== undefined) {
      if (old.alive) throw new Error(`${id} is still running`)
      this.#retired.push(old)
    }
    const proxy = old?.proxy ?? new FaultProxy(id)
    if (old === undefined) {
      await proxy.listen()
      proxy.rule((from, route) => this.#faultFor(from, id, route))
    }
    const port = await reservedPort()
    const url = `http://127.0.0.1:${port}`
    proxy.target(url)
    const secretFile = await this.secretFile()
    const via = start.joinVia === undefined ? null : this.members.get(start.joinVia)
    const args = [
      '--island', this.options.island, '--bind', `127.0.0.1:${port}`, '--id', id,
      '--location', proxy.url, '--ping-ms', String(this.options.pingMs), '--timeout-ms', String(this.options.timeoutMs),
      '--log-level', this.options.logLevel ?? 'warn',
      ...(secretFile === null ? [] : ['--secret-file', secretFile]),
      ...(via === null || via === undefined ? ['--bootstrap'] : ['--join', via.proxy.url]),
    ]
    const env = { ...process.env }
    if (start.fakeTime !== undefined) {
      if (LIBFAKETIME === null) throw new Error('libfaketime is not installed (apt-get install faketime)')
      env['LD_PRELOAD'] = LIBFAKETIME
      env['FAKETIME'] = start.fakeTime
      env['FAKETIME_DONT_RESET'] = '1'
    }
    const spawned = spawnMember({ name: id, args, env, readyTimeoutMs: READY_TIMEOUT_MS })
    const member: Member = {
      id, proxy, url, port, child: spawned.child, exited: spawned.exited, alive: true, stopped: false,
      ready: spawned.ready.then(() => undefined),
      stderrTail: () => spawned.stderrTail(),
    }
    member.ready.catch(() => undefined)
    void spawned.exited.then(() => {
      member.alive = false
    })
    this.members.set(id, member)
    if (start.noWait !== true) {
      try {
        await member.ready
      } catch (error) {
        throw new Error(`${String(error)}\n--- ${id} stderr ---\n${member.stderrTail()}`)
      }
    }
    return member
  }

  member(id: string): Member {
    const member = this.members.get(id)
    if (member === undefined) throw new Error(`no member ${id}`)
    return member
  }

  /** Members whose process runs and is not stopped by SIGSTOP. */
  live(): Member[] {
    return [...this.members.values()].filter((member) => member.alive && !member.stopped)
  }

  /** Members whose process exists, stopped or not. */
  running(): Member[] {
    return [...this.members.values()].filter((member) => member.alive)
  }

  signal(id: string, signal: NodeJS.Signals): void {
    const member = this.member(id)
    if (!member.alive) return
    member.child.kill(signal)
    if (signal === 'SIGSTOP') member.stopped = true
    if (signal === 'SIGCONT') member.stopped = false
    if (signal === 'SIGKILL') member.alive = false
  }

  // ------------------------------------------------------------- link faults

  setLink(from: string, to: string, fault: LinkFault): void {
    if (fault === 'pass') this.links.delete(`${from}>${to}`)
    else this.links.set(`${from}>${to}`, fault)
  }

  /** Cuts `id` off from every other member, both ways. */
  isolate(id: string, fault: LinkFault = 'blackhole'): void {
    for (const other of this.members.keys()) {
      if (other === id) continue
      this.setLink(id, other, fault)
      this.setLink(other, id, fault)
    }
  }

  /** Every link passes again; held requests are cut so senders retry at once. */
  heal(): void {
    this.links.clear()
    this.routeRules.clear()
    for (const member of this.members.values()) member.proxy.releaseHeld()
  }

  #faultFor(from: string, to: string, route: string): LinkFault {
    const rule = this.routeRules.get(to)
    if (rule !== undefined) {
      const fault = rule(from, route)
      if (fault !== 'pass') return fault
    }
    return this.links.get(`${from}>${to}`) ?? 'pass'
  }

  // ------------------------------------------------------------- observing

  async health(id: string): Promise<Health | null> {
    const member = this.members.get(id)
    if (member === undefined || !member.alive || member.stopped) return null
    return getJson<Health>(`${member.url}/health`, HEALTH_TIMEOUT_MS)
  }

  async healthAll(): Promise<Map<string, Health>> {
    const live = this.live()
    const answers = await Promise.all(live.map((member) => this.health(member.id)))
    const result = new Map<string, Health>()
    live.forEach((member, index) => {
      const health = answers[index]
      if (health !== null && health !== undefined) result.set(member.id, health)
    })
    return result
  }

  /** The leader most live members name, when one of them says it leads. */
  async leader(): Promise<string | null> {
    const all = await this.healthAll()
    for (const health of all.values()) {
      if (health.isLeader && health.government?.majority[0] === health.colleagueId) return health.colleagueId
    }
    return null
  }

  async waitFor(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<number> {
    const startedAt = Date.now()
    const until = startedAt + timeoutMs
    while (Date.now() < until) {
      if (await probe().catch(() => false)) return Date.now() - startedAt
      await sleep(POLL_MS)
    }
    throw new Error(`no ${what} within ${timeoutMs} ms`)
  }

  async waitLeader(timeoutMs: number): Promise<string> {
    let leader: string | null = null
    await this.waitFor('leader', timeoutMs, async () => (leader = await this.leader()) !== null)
    return leader as unknown as string
  }

  /** Live members agree on the government and have applied everything committed, none pending. */
  async converged(): Promise<boolean> {
    const live = this.live()
    const all = await this.healthAll()
    if (all.size !== live.length || all.size === 0) return false
    const healths = [...all.values()]
    const first = healths[0] as Health
    return healths.every(
      (health) =>
        health.state === 'member' &&
        health.government?.promise === first.government?.promise &&
        health.positions.applied === first.positions.applied &&
        health.positions.commit === first.positions.commit &&
        health.positions.backlog === 0,
    )
  }

  async waitConverged(timeoutMs: number): Promise<number> {
    return this.waitFor('convergence', timeoutMs, () => this.converged())
  }

  // ------------------------------------------------------------- cleanup

  async stopMember(id: string): Promise<Exit | null> {
    return stopMember(this.member(id))
  }

  async close(): Promise<void> {
    const all = [...this.members.values(), ...this.#retired]
    await Promise.all(all.map((member) => stopMember(member)))
    await Promise.all([...this.members.values()].map((member) => member.proxy.close().catch(() => undefined)))
    if (this.#secretDir !== null) await rm(this.#secretDir, { recursive: true, force: true })
  }
}

async function stopMember(member: Member): Promise<Exit | null> {
  if (member.child.exitCode !== null || member.child.signalCode !== null) return member.exited
  member.child.kill('SIGCONT')
  member.child.kill('SIGTERM')
  const timer = setTimeout(() => member.child.kill('SIGKILL'), STOP_TIMEOUT_MS)
  try {
    return await member.exited
  } finally {
    clearTimeout(timer)
  }
}

export async function getJson<T>(url: string, timeoutMs: number): Promise<T | null> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    if (response.status !== 200) {
      await response.body?.cancel()
      return null
    }
    return (await response.json()) as T
  } catch {
    return null
  }
}
