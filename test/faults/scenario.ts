// One fault scenario on real processes: start an island, put bounded load on
// it, let the scenario inject its faults and heal, stop the load, wait for the
// island to converge, then check the whole history and print the figures.

import { strict as assert } from 'node:assert'
import { checkHistory, type HistoryReport, type MemberFinal } from '../../src/testing/history.js'
import { createRandom, type Random } from '../../src/testing/prng.js'
import { Cluster, getJson, sleep, type ClusterOptions, type Health, type StartOptions } from './cluster.js'
import { Load } from './load.js'

/** The fault tests run only under `npm run test:faults`; the plain `npm test` glob reports them skipped. */
export const FAULTS_ENABLED = process.env['PAXOS_FAULTS'] === '1'
export const SKIP = FAULTS_ENABLED ? false : 'fault tests run with npm run test:faults'

/** One seed per run, printed with every figure and every failure; PAXOS_FAULTS_SEED replays it. */
export const RUN_SEED = parseSeed(process.env['PAXOS_FAULTS_SEED'])

function parseSeed(text: string | undefined): number {
  const seed = text === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(text)
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`PAXOS_FAULTS_SEED must be a non-negative integer, got ${text}`)
  return seed
}

export const LOAD_MS_MAX = 30_000
const FINAL_CONVERGENCE_MS = 20_000
const MONITOR_MS = 100
const CLIENT_TIMEOUT_MS = 3_000

export const TIMING = { pingMs: 100, timeoutMs: 500 } as const

export interface ScenarioContext {
  readonly cluster: Cluster
  readonly random: Random
  readonly load: Load
  /** Marks the fault: election time counts from here, against the leader at this moment. */
  fault(leader: string | null): void
  /** Marks the heal: convergence time counts from here. */
  heal(): void
  /** Sleeps, bounded by the scenario's load window. */
  sleep(ms: number): Promise<void>
  note(text: string): void
}

export interface Scenario {
  readonly name: string
  readonly ids: readonly string[]
  readonly parliament: number
  readonly loadMs: number
  readonly warmupMs?: number
  readonly clients?: number
  readonly ratePerClient?: number
  readonly cluster?: Partial<ClusterOptions>
  readonly perMember?: Readonly<Record<string, StartOptions>>
  /** Clients keep sending to members stopped by SIGSTOP (their answers come after SIGCONT). */
  readonly includeStopped?: boolean
  run(context: ScenarioContext): Promise<void>
  /** Extra checks once the history passed; throw to fail. */
  after?(context: ScenarioContext, report: HistoryReport): Promise<void>
}

export interface Figures {
  readonly name: string
  readonly seed: number
  readonly ok: number
  readonly failed: number
  readonly unknown: number
  readonly longestGapMs: number
  readonly electionMs: number | null
  readonly convergenceMs: number | null
  readonly historySize: number
  readonly entries: number
  readonly notes: readonly string[]
}

export const FIGURES: Figures[] = []

interface Sample {
  readonly at: number
  readonly id: string
  readonly health: Health
}

/** Polls every live member's health so election and convergence can be timed. */
class Monitor {
  readonly samples: Sample[] = []
  #running = true
  #loop: Promise<void>

  constructor(cluster: Cluster) {
    this.#loop = (async () => {
      while (this.#running) {
        const at = Date.now()
        const all = await cluster.healthAll()
        for (const [id, health] of all) this.samples.push({ at, id, health })
        await sleep(MONITOR_MS)
      }
    })()
  }

  async stop(): Promise<void> {
    this.#running = false
    await this.#loop
  }

  /** First time after `at` that a member other than `oldLeader` leads a newer government. */
  electionAfter(at: number, oldLeader: string | null, numberAtFault: number): number | null {
    const sample = this.samples.find(
      ({ at: when, id, health }) =>
        when >= at &&
        id !== oldLeader &&
        health.isLeader &&
        health.government !== null &&
        health.government.majority[0] === id &&
        health.government.number > numberAtFault,
    )
    return sample === undefined ? null : sample.at - at
  }
}

export async function runScenario(scenario: Scenario): Promise<Figures> {
  assert.ok(scenario.loadMs <= LOAD_MS_MAX, 'a scenario runs at most 30 s of load')
  const seed = (RUN_SEED ^ hash(scenario.name)) >>> 0
  const random = createRandom(seed)
  const notes: string[] = []
  const cluster = await Cluster.start(
    { island: 'faults', ...TIMING, logLevel: process.env['PAXOS_FAULTS_LOG_LEVEL'] ?? 'warn', ...scenario.cluster },
    scenario.ids,
    scenario.parliament,
    scenario.perMember,
  ).catch((error: unknown) => {
    throw new Error(`[PAXOS_FAULTS_SEED=${RUN_SEED} seed ${seed}] ${scenario.name}: island did not start: ${String(error)}`)
  })
  let monitor: Monitor | null = null
  let running: Load | null = null
  try {
    const load = new Load({
      seed,
      random: random.fork('load'),
      targets: () => (scenario.includeStopped === true ? cluster.running() : cluster.live()).map((member) => member.url),
      clients: scenario.clients ?? 4,
      ratePerClient: scenario.ratePerClient ?? 25,
      timeoutMs: CLIENT_TIMEOUT_MS,
    })
    monitor = new Monitor(cluster)
    const marks = { faultAt: null as number | null, oldLeader: null as string | null, numberAtFault: 0, healAt: null as number | null }
    let healCommit = -1
    let convergenceMs: number | null = null
    let convergence: Promise<void> | null = null
    const loadStartedAt = Date.now()
    const loadEnd = loadStartedAt + scenario.loadMs
    const context: ScenarioContext = {
      cluster,
      random: random.fork('scenario'),
      load,
      fault(leader) {
        marks.faultAt = Date.now()
        marks.oldLeader = leader
        const latest = monitor?.samples.at(-1)?.health.government?.number ?? 0
        marks.numberAtFault = Math.max(latest, ...(monitor?.samples.map((sample) => sample.health.government?.number ?? 0) ?? [0]))
      },
      heal() {
        const healAt = Date.now()
        marks.healAt = healAt
        healCommit = Math.max(-1, ...(monitor?.samples.slice(-10).map((sample) => sample.health.positions.commit) ?? [-1]))
        convergence = (async () => {
          const waited = await cluster
            .waitFor('convergence after heal', FINAL_CONVERGENCE_MS, async () => {
              const all = await cluster.healthAll()
              const healths = [...all.values()]
              const promise = healths[0]?.government?.promise
              return (
                all.size === cluster.live().length &&
                healths.every(
                  (health) => health.state === 'member' && health.government?.promise === promise && health.positions.applied >= healCommit,
                )
              )
            })
            .catch(() => null)
          convergenceMs = waited === null ? null : Date.now() - healAt
        })()
      },
      async sleep(ms) {
        await sleep(Math.max(0, Math.min(ms, loadEnd - Date.now())))
      },
      note(text) {
        notes.push(text)
      },
    }
    load.start()
    running = load
    await sleep(scenario.warmupMs ?? 2_000)
    await scenario.run(context)
    await sleep(Math.max(0, loadEnd - Date.now()))
    await load.stop()
    if (convergence !== null) await convergence
    const finalMs = await cluster.waitConverged(FINAL_CONVERGENCE_MS).catch(async (error: unknown) => {
      throw new Error(`[PAXOS_FAULTS_SEED=${RUN_SEED} seed ${seed}] ${scenario.name}: ${String(error)}; ${notes.join('; ')}\n${await describeHealth(cluster)}\n${stderrTails(cluster)}`)
    })
    if (marks.healAt === null) convergenceMs = finalMs
    await monitor.stop()
    const finals = await collectFinals(cluster)
    const report = checkHistory(load.operations, finals)
    const gap = load.longestGap()
    const figures: Figures = {
      name: scenario.name,
      seed,
      ok: report.counts.ok,
      failed: report.counts.failed,
      unknown: report.counts.unknown,
      longestGapMs: gap.ms,
      electionMs: marks.faultAt === null ? null : monitor.electionAfter(marks.faultAt, marks.oldLeader, marks.numberAtFault),
      convergenceMs,
      historySize: load.operations.length,
      entries: report.counts.entries,
      notes,
    }
    FIGURES.push(figures)
    console.log(describe(figures))
    if (!report.ok) {
      throw new Error(
        `[PAXOS_FAULTS_SEED=${RUN_SEED} seed ${seed}] ${scenario.name}: history violates ${report.violations.length}+ rules:\n` +
          report.violations.map((violation) => `  ${violation.rule}: ${violation.detail}`).join('\n'),
      )
    }
    assert.ok(report.counts.ok > 0, `[PAXOS_FAULTS_SEED=${RUN_SEED} seed ${seed}] ${scenario.name}: no operation succeeded`)
    await scenario.after?.(context, report)
    return figures
  } catch (error) {
    if (error instanceof Error && !error.message.includes('PAXOS_FAULTS_SEED=')) {
      error.message =
        `[PAXOS_FAULTS_SEED=${RUN_SEED} seed ${seed}] ${scenario.name}: ${error.message}; ${notes.join('; ')}\n` +
        `${await describeHealth(cluster)}\n${stderrTails(cluster)}`
    }
    throw error
  } finally {
    // Also after a failure: the clients stop before the island goes.
    await running?.stop()
    await monitor?.stop()
    await cluster.close()
  }
}

export async function describeHealth(cluster: Cluster): Promise<string> {
  const lines: string[] = []
  for (const member of cluster.members.values()) {
    const health = await cluster.health(member.id)
    if (health === null) {
      lines.push(`${member.id}: ${member.alive ? (member.stopped ? 'stopped' : 'no answer') : 'exited'}`)
      continue
    }
    const government = health.government
    lines.push(
      `${member.id}: ${health.state} leader=${health.leader} isLeader=${health.isLeader} ` +
        `government=${government?.promise} ${government?.majority.join(',')}|${government?.minority.join(',')}|${government?.constituents.join(',')} ` +
        `exiled=${government?.exiled.join(',')} commit=${health.positions.commit} applied=${health.positions.applied} backlog=${health.positions.backlog}`,
    )
  }
  return lines.join('\n')
}

function stderrTails(cluster: Cluster): string {
  return [...cluster.members.values()].map((member) => `--- ${member.id} ---\n${member.stderrTail().slice(-3000)}`).join('\n')
}

async function collectFinals(cluster: Cluster): Promise<MemberFinal[]> {
  const finals: MemberFinal[] = []
  for (const member of cluster.live()) {
    const map = await getJson<{ position: number; entries: MemberFinal['map']['entries'] }>(`${member.url}/kv`, 5_000)
    const health = await cluster.health(member.id)
    if (map === null || health === null) throw new Error(`${member.id} did not answer its final GET /kv and /health`)
    finals.push({
      id: member.id,
      map: { position: map.position, entries: map.entries },
      agreement: { government: health.government?.promise, applied: health.positions.applied, commit: health.positions.commit },
    })
  }
  return finals
}

export function describe(figures: Figures): string {
  const ms = (value: number | null): string => (value === null ? '-' : `${value} ms`)
  return (
    `[faults] ${figures.name} (PAXOS_FAULTS_SEED=${RUN_SEED}, scenario seed ${figures.seed}): ok ${figures.ok} / failed ${figures.failed} / unknown ${figures.unknown}; ` +
    `longest gap ${ms(figures.longestGapMs)}; election ${ms(figures.electionMs)}; convergence ${ms(figures.convergenceMs)}; ` +
    `history ${figures.historySize} ops, ${figures.entries} entries` +
    (figures.notes.length > 0 ? `; ${figures.notes.join('; ')}` : '')
  )
}

function hash(text: string): number {
  let value = 0x811c9dc5
  for (let index = 0; index < text.length; index++) value = Math.imul(value ^ text.charCodeAt(index), 0x01000193)
  return value >>> 0
}
