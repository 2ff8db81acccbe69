// What an operator follows: each government this colleague applies is
// compared with the one before it, and every change that matters (a new
// leader, this member losing leadership, a member exiled, admitted, promoted)
// becomes one event, one info log line with ids and the government number,
// and one message on a `node:diagnostics_channel` channel, so that tracing
// tools can subscribe without a logger (undici's convention). Quorum is
// watched on a timer: lost when no majority was heard for a few timeouts.

import { channel } from 'node:diagnostics_channel'
import type { Clock, TimerHandle } from '../kibitzer/clock.js'
import { isParliament, membersOf, parliamentOf } from '../paxos/government.js'
import type { Government } from '../paxos/types.js'
import type { PinoLikeLogger } from './logger.js'

/** Silence, in timeouts, after which a majority counts as not heard. */
export const QUORUM_LOST_TIMEOUTS = 3

/** How long the handling of one entry may stay unsettled before it is logged as stalled. */
export const APPLY_STALL_MS = 10_000

/** The `node:diagnostics_channel` channels a colleague publishes on, by what they report. */
export const CHANNELS = {
  government: 'paxos-colleague:government',
  leader: 'paxos-colleague:leader',
  leadershipLost: 'paxos-colleague:leadership:lost',
  exiled: 'paxos-colleague:member:exiled',
  admitted: 'paxos-colleague:member:admitted',
  promoted: 'paxos-colleague:member:promoted',
  quorumLost: 'paxos-colleague:quorum:lost',
  quorumRegained: 'paxos-colleague:quorum:regained',
} as const

export type ChannelName = (typeof CHANNELS)[keyof typeof CHANNELS]

/** Every message on the channels names the colleague that saw it. */
export interface ObservedBase {
  readonly islandName: string
  readonly colleagueId: string
}

/** `leader` event and channel: a government with a new leader was applied. */
export interface LeaderChange {
  /** The new leader's colleagueId: `government.majority[0]`. */
  readonly leader: string
  /** The leader before, or null for the first government this colleague applied. */
  readonly previous: string | null
  readonly government: Government
}

/** `exiled` event and channel: a member was removed from the island. */
export interface MemberExiled {
  readonly member: string
  readonly government: Government
}

/** `admitted` and `promoted` events and channels. */
export interface MemberChange {
  readonly member: string
  readonly government: Government
}

/** `quorum` event: whether this colleague hears a majority (see QUORUM_LOST_TIMEOUTS). */
export interface QuorumChange {
  readonly quorum: boolean
  /** Parliament members heard within the window, this colleague included. */
  readonly heard: readonly string[]
  readonly parliament: readonly string[]
  readonly government: number
}

export interface ObserverEvents {
  leader: [change: LeaderChange]
  exiled: [change: MemberExiled]
  admitted: [change: MemberChange]
  promoted: [change: MemberChange]
  quorum: [change: QuorumChange]
}

export interface ObserverOptions {
  readonly islandName: string
  readonly colleagueId: string
  readonly logger: PinoLikeLogger
  readonly clock: Clock
  readonly timeoutMs: number
  /** Whether this colleague leads now (the legislator's view, which may run ahead of the applied government). */
  readonly isLeader: () => boolean
  /** The entry whose handling is awaited, and since when (clock time); null when none is. */
  readonly applying?: () => { readonly position: number; readonly since: number } | null
  readonly emit: <K extends keyof ObserverEvents>(event: K, ...args: ObserverEvents[K]) => void
  /** Counts for /metrics: a new leader, an exile. */
  readonly onElection?: () => void
  readonly onExile?: () => void
}

const published = {
  government: channel(CHANNELS.government),
  leader: channel(CHANNELS.leader),
  leadershipLost: channel(CHANNELS.leadershipLost),
  exiled: channel(CHANNELS.exiled),
  admitted: channel(CHANNELS.admitted),
  promoted: channel(CHANNELS.promoted),
  quorumLost: channel(CHANNELS.quorumLost),
  quorumRegained: channel(CHANNELS.quorumRegained),
}

export class Observer {
  private readonly options: ObserverOptions
  private readonly base: ObservedBase
  private previous: Government | null = null
  /** colleagueId to the clock time its last message arrived. */
  private readonly heardAt = new Map<string, number>()
  private quorum = true
  private timer: TimerHandle | null = null
  /** The awaited handling logged as stalled, until it settles. */
  private stalled: { readonly position: number; readonly since: number } | null = null

  constructor(options: ObserverOptions) {
    this.options = options
    this.base = { islandName: options.islandName, colleagueId: options.colleagueId }
  }

  /** Starts the quorum watch (once the colleague is in an island). */
  start(): void {
    if (this.timer !== null) return
    this.timer = this.options.clock.setInterval(() => {
      this.checkQuorum()
      this.checkApplying()
    }, this.options.timeoutMs)
  }

  stop(): void {
    if (this.timer === null) return
    this.options.clock.clearInterval(this.timer)
    this.timer = null
  }

  /** A message from a peer arrived. Called per kibitz body: keep it cheap. */
  heard(from: string): void {
    this.heardAt.set(from, this.options.clock.now())
  }

  /** A government was applied here, in log order. */
  government(government: Government): void {
    const previous = this.previous
    this.previous = government
    const { logger } = this.options
    const number = government.number
    publish(published.government, () => ({ ...this.base, government }))
    const leader = government.majority[0] ?? null
    const before = previous?.majority[0] ?? null
    if (leader !== null && leader !== before) {
      this.options.onElection?.()
      // A newcomer's first government names the leader it already had: no news for the log.
      if (previous !== null || leader === this.options.colleagueId) {
        logger.info({ leader, previous: before, government: number }, leader === this.options.colleagueId ? 'elected leader' : 'new leader')
      }
      const change: LeaderChange = { leader, previous: before, government }
      publish(published.leader, () => ({ ...this.base, ...change }))
      this.options.emit('leader', change)
      if (before === this.options.colleagueId) {
        logger.info({ leader, government: number }, 'lost leadership')
        publish(published.leadershipLost, () => ({ ...this.base, leader, government }))
      }
    }
    if (previous === null) return
    const members = new Set(membersOf(government))
    for (const member of membersOf(previous)) {
      if (members.has(member)) continue
      this.options.onExile?.()
      this.heardAt.delete(member)
      logger.info({ member, government: number }, 'member exiled')
      const change: MemberExiled = { member, government }
      publish(published.exiled, () => ({ ...this.base, ...change }))
      this.options.emit('exiled', change)
    }
    const known = new Set(membersOf(previous))
    for (const member of members) {
      if (!known.has(member)) {
        const location = government.properties[member]?.['location']
        logger.info({ member, location, government: number }, 'member admitted')
        const change: MemberChange = { member, government }
        publish(published.admitted, () => ({ ...this.base, ...change }))
        this.options.emit('admitted', change)
      } else if (isParliament(government, member) && !isParliament(previous, member)) {
        logger.info({ member, government: number }, 'member promoted')
        const change: MemberChange = { member, government }
        publish(published.promoted, () => ({ ...this.base, ...change }))
        this.options.emit('promoted', change)
      }
    }
  }

  /**
   * The leader needs a majority of the parliament (itself included) heard
   * within the window; any other member needs the leader heard.
   */
  private checkQuorum(): void {
    const government = this.previous
    if (government === null) return
    const now = this.options.clock.now()
    const windowMs = this.options.timeoutMs * QUORUM_LOST_TIMEOUTS
    const self = this.options.colleagueId
    const parliament = parliamentOf(government)
    const heard = parliament.filter((id) => id === self || now - (this.heardAt.get(id) ?? -Infinity) <= windowMs)
    const leader = government.majority[0] ?? null
    const quorum =
      leader === self || this.options.isLeader()
        ? heard.length * 2 > parliament.length
        : leader !== null && heard.includes(leader)
    if (quorum === this.quorum) return
    this.quorum = quorum
    const change: QuorumChange = { quorum, heard, parliament, government: government.number }
    if (quorum) {
      this.options.logger.info({ heard, parliament, government: government.number }, 'quorum regained')
      publish(published.quorumRegained, () => ({ ...this.base, ...change }))
    } else {
      this.options.logger.warn(
        { heard, parliament, government: government.number, windowMs },
        leader === self ? 'quorum lost: no majority of the parliament heard' : 'quorum lost: the leader is not heard',
      )
      publish(published.quorumLost, () => ({ ...this.base, ...change }))
    }
    this.options.emit('quorum', change)
  }

  /**
   * An entry whose handling has not settled for `APPLY_STALL_MS` holds back
   * every later one: said once at warn, and at info when it settles.
   */
  private checkApplying(): void {
    const waiting = this.options.applying?.() ?? null
    const now = this.options.clock.now()
    const stalled = this.stalled
    if (stalled !== null && stalled !== waiting) {
      this.stalled = null
      this.options.logger.info({ position: stalled.position, waitedMs: now - stalled.since }, 'applying goes on')
    }
    if (waiting === null || this.stalled !== null || now - waiting.since < APPLY_STALL_MS) return
    this.stalled = waiting
    this.options.logger.warn(
      { position: waiting.position, waitedMs: now - waiting.since },
      "applying has stalled: the handling of an entry (an application callback, or a snapshot's write) has not settled, and every later entry waits on it",
    )
  }
}

/** Builds the message only when someone listens. */
function publish(target: ReturnType<typeof channel>, message: () => object): void {
  if (target.hasSubscribers) target.publish(message())
}
