// One per colleague, shared by every open status stream: while at least one
// page watches, it asks each peer for GET /health once per ping interval
// (never more than one request in flight per peer, each bounded by a
// timeout), samples the local commit position for the throughput line, and
// publishes one serialized event that every stream receives as is. Nothing
// here blocks the colleague: requests run beside it and a slow or dead peer
// only shows as not answering.

import { membersOf } from '../../paxos/government.js'
import type { Clock, TimerHandle } from '../../kibitzer/clock.js'
import type { Health } from '../health.js'
import { ownHealth, readHealth, type MemberHealth } from './peer-health.js'
import { buildView, newestGovernment, type PeerRecord, type StatusView } from './status-view.js'
import type { Timeline } from './timeline.js'

/** One throughput sample a second, a minute of them. */
export const THROUGHPUT_SAMPLE_MS = 1_000
export const THROUGHPUT_SAMPLES_MAX = 60
/**
 * Bounds on the gathering cadence: the ping interval, but no more than four
 * rounds a second (a page needs no more, and each round writes to every open
 * stream) and no fewer than one. A government applied here is pushed at once
 * whatever the cadence.
 */
export const GATHER_INTERVAL_MIN_MS = 250
export const GATHER_INTERVAL_MAX_MS = 1_000

/** GETs `${location}/health` and resolves its parsed JSON body; rejects on any failure or after `timeoutMs`. */
export type FetchHealth = (location: string, timeoutMs: number) => Promise<unknown>

export interface GathererOptions {
  health(): Health
  clock: Clock
  pingMs: number
  timeoutMs: number
  timeline: Timeline
  fetchHealth: FetchHealth
  /** Receives each event, serialized once for every stream. */
  publish(view: StatusView): void
}

interface Sample {
  readonly at: number
  readonly commit: number
}

export class StatusGatherer {
  private readonly options: GathererOptions
  private readonly intervalMs: number
  private readonly peers = new Map<string, PeerRecord>()
  private readonly inFlight = new Set<string>()
  private readonly perSecond: number[] = []
  private lastSample: Sample | null = null
  private ticker: TimerHandle | null = null
  private publishing: TimerHandle | null = null
  private publishedGovernment = 0

  constructor(options: GathererOptions) {
    this.options = options
    this.intervalMs = Math.min(GATHER_INTERVAL_MAX_MS, Math.max(GATHER_INTERVAL_MIN_MS, options.pingMs))
  }

  get running(): boolean {
    return this.ticker !== null
  }

  /** Starts gathering; the first round runs at once. Idempotent. */
  start(): void {
    if (this.ticker !== null) return
    this.ticker = this.options.clock.setInterval(() => this.tick(), this.intervalMs)
    this.tick()
  }

  /** Stops gathering; answers still in flight are dropped when they come. */
  stop(): void {
    if (this.ticker !== null) this.options.clock.clearInterval(this.ticker)
    if (this.publishing !== null) this.options.clock.clearTimeout(this.publishing)
    this.ticker = null
    this.publishing = null
    this.lastSample = null
    this.perSecond.length = 0
  }

  /** The island as known now, without asking anyone. */
  view(): StatusView {
    const { options } = this
    const health = options.health()
    const own = ownHealth(health)
    return buildView({
      now: options.clock.now(),
      islandName: health.islandName,
      islandId: health.islandId,
      location: health.location,
      pingMs: options.pingMs,
      own,
      peers: this.peers,
      timeline: options.timeline.list(),
      throughput: { sampleMs: THROUGHPUT_SAMPLE_MS, perSecond: this.perSecond },
    })
  }

  /** Something worth showing at once happened (a government applied here): publish before the next round. */
  nudge(): void {
    if (this.ticker === null || this.publishing !== null) return
    this.publishing = this.options.clock.setTimeout(() => {
      this.publishing = null
      this.publishNow()
    }, 0)
  }

  private tick(): void {
    const own = ownHealth(this.options.health())
    this.sample(own)
    this.askPeers(own)
    this.publishNow()
  }

  private publishNow(): void {
    if (this.ticker === null) return
    const view = this.view()
    this.publishedGovernment = view.government?.number ?? 0
    this.options.publish(view)
  }

  private sample(own: MemberHealth): void {
    const now = this.options.clock.now()
    const last = this.lastSample
    if (last === null) {
      this.lastSample = { at: now, commit: own.commit }
      return
    }
    if (now - last.at < THROUGHPUT_SAMPLE_MS) return
    this.perSecond.push(Math.max(0, ((own.commit - last.commit) * 1000) / (now - last.at)))
    if (this.perSecond.length > THROUGHPUT_SAMPLES_MAX) this.perSecond.shift()
    this.lastSample = { at: now, commit: own.commit }
  }

  /** Asks every other member of the newest known government; forgets peers no longer in it. */
  private askPeers(own: MemberHealth): void {
    const government = newestGovernment(own, this.peers)
    const members = new Set(government === null ? [] : membersOf(government))
    for (const id of this.peers.keys()) {
      if (!members.has(id)) this.peers.delete(id)
    }
    for (const id of members) {
      const location = government?.locations[id]
      if (id === own.colleagueId || location === undefined || this.inFlight.has(id)) continue
      this.ask(id, location)
    }
  }

  private ask(id: string, location: string): void {
    this.inFlight.add(id)
    const { clock, timeoutMs } = this.options
    this.options
      .fetchHealth(location, timeoutMs)
      .then(
        (body) => {
          const health = readHealth(body)
          if (health === null) return this.record(id, 'not a health answer')
          if (health.colleagueId !== id) return this.record(id, `answered as ${health.colleagueId}`)
          this.peers.set(id, { health, answeredAt: clock.now(), error: null })
          const number = health.government?.number ?? 0
          if (number > this.publishedGovernment) this.nudge()
        },
        (error: unknown) => this.record(id, describe(error)),
      )
      .finally(() => this.inFlight.delete(id))
  }

  private record(id: string, error: string): void {
    const previous = this.peers.get(id)
    this.peers.set(id, { health: previous?.health ?? null, answeredAt: previous?.answeredAt ?? null, error })
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause
  if (typeof cause?.code === 'string') return cause.code
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string') return code
  return error instanceof Error ? error.message : String(error)
}
