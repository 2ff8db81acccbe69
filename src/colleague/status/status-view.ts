// What one status event carries: the island as the member serving the page
// sees it, put together from its own health and the latest answers of its
// peers. Pure: the gatherer hands in what it knows, this decides what to show.

import type { GovernmentSummary, MemberHealth } from './peer-health.js'
import type { TimelineEvent } from './timeline.js'

export type Role = 'leader' | 'parliament' | 'constituent'

export interface MemberView {
  readonly id: string
  readonly location: string | null
  readonly role: Role
  /** This is the member serving the page. */
  readonly self: boolean
  /** Its state as it last reported (`member`, `crashed`, ...); null before any answer. */
  readonly state: string | null
  /** Whether its latest health request was answered. */
  readonly answering: boolean
  /** Milliseconds since it last answered; null if it never did. */
  readonly answeredMs: number | null
  /** Why its latest health request failed. */
  readonly error: string | null
  readonly commit: number | null
  readonly applied: number | null
  /** Entries the leader has committed that this member has not applied yet. */
  readonly lag: number | null
  readonly backlog: number | null
  readonly pending: number | null
  /** Milliseconds since the leader last heard from it (the leader's own view). */
  readonly heardMs: number | null
}

export interface GovernmentView extends GovernmentSummary {
  readonly leader: string
}

export interface StatusView {
  /** Milliseconds since the epoch, on the member serving the page. */
  readonly at: number
  readonly islandName: string
  readonly islandId: string | null
  /** The member serving the page. */
  readonly self: { readonly id: string; readonly state: string; readonly location: string | null }
  readonly pingMs: number
  /** The newest government any member reported. */
  readonly government: GovernmentView | null
  readonly members: readonly MemberView[]
  readonly timeline: readonly TimelineEvent[]
  /** Committed entries per second on the member serving the page, oldest first, one sample a `sampleMs`. */
  readonly throughput: { readonly sampleMs: number; readonly perSecond: readonly number[] }
}

/** What is known of one peer. */
export interface PeerRecord {
  readonly health: MemberHealth | null
  /** Clock time of its last answer; null if it never answered. */
  readonly answeredAt: number | null
  readonly error: string | null
}

export interface ViewInput {
  readonly now: number
  readonly islandName: string
  readonly islandId: string | null
  readonly location: string | null
  readonly pingMs: number
  readonly own: MemberHealth
  readonly peers: ReadonlyMap<string, PeerRecord>
  readonly timeline: readonly TimelineEvent[]
  readonly throughput: StatusView['throughput']
}

/** The newest government among the member's own and its peers' answers. */
export function newestGovernment(own: MemberHealth, peers: ReadonlyMap<string, PeerRecord>): GovernmentSummary | null {
  let newest = own.government
  for (const peer of peers.values()) {
    const government = peer.health?.government ?? null
    if (government !== null && (newest === null || government.number > newest.number)) newest = government
  }
  return newest
}

export function buildView(input: ViewInput): StatusView {
  const { own, peers, now } = input
  const summary = newestGovernment(own, peers)
  const government: GovernmentView | null = summary === null ? null : { ...summary, leader: summary.majority[0] as string }
  const members: MemberView[] = []
  if (government !== null) {
    const healthOf = (id: string): MemberHealth | null => (id === own.colleagueId ? own : (peers.get(id)?.health ?? null))
    const leader = healthOf(government.leader)
    const leaderCommit = leader?.commit ?? Math.max(own.commit, ...[...peers.values()].map((peer) => peer.health?.commit ?? -1))
    const heardAge = (id: string): number | null => {
      if (leader === null || id === government.leader) return null
      const age = leader.heardMs[id]
      if (age === undefined) return null
      const answeredAt = government.leader === own.colleagueId ? now : (peers.get(government.leader)?.answeredAt ?? now)
      return age + Math.max(0, now - answeredAt)
    }
    const seats: [readonly string[], Role][] = [
      [government.majority, 'parliament'],
      [government.minority, 'parliament'],
      [government.constituents, 'constituent'],
    ]
    for (const [ids, role] of seats) {
      for (const id of ids) {
        const self = id === own.colleagueId
        const peer = self ? null : (peers.get(id) ?? null)
        const health = self ? own : (peer?.health ?? null)
        const answeredAt = self ? now : (peer?.answeredAt ?? null)
        const answering = self || (peer !== null && peer.error === null && peer.answeredAt !== null)
        members.push({
          id,
          location: government.locations[id] ?? null,
          role: id === government.leader ? 'leader' : role,
          self,
          state: health?.state ?? null,
          answering,
          answeredMs: answeredAt === null ? null : Math.max(0, now - answeredAt),
          error: self ? null : (peer?.error ?? null),
          commit: health?.commit ?? null,
          applied: health?.applied ?? null,
          lag: health === null ? null : Math.max(0, leaderCommit - health.applied),
          backlog: health?.backlog ?? null,
          pending: health?.pending ?? null,
          heardMs: heardAge(id),
        })
      }
    }
  }
  return {
    at: now,
    islandName: input.islandName,
    islandId: input.islandId,
    self: { id: own.colleagueId, state: own.state, location: input.location },
    pingMs: input.pingMs,
    government,
    members,
    timeline: input.timeline,
    throughput: input.throughput,
  }
}
