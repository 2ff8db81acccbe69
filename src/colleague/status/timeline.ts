// What happened to the island, told as the differences between successive
// governments: a new leader (an election), members exiled, admitted,
// naturalized, promoted into parliament or moved out of it. Every member
// applies every government in log order, so diffing them here needs nothing
// from the legislator and sees the same story on every member.

import { membersOf, parliamentOf } from '../../paxos/government.js'
import type { Government } from '../../paxos/types.js'

/** How many events a timeline keeps; older ones are dropped. */
export const TIMELINE_EVENTS_MAX = 64

export type TimelineKind =
  | 'founded'
  | 'joined'
  | 'elected'
  | 'exiled'
  | 'admitted'
  | 'naturalized'
  | 'promoted'
  | 'demoted'
  | 'left'

export interface TimelineEvent {
  /** Milliseconds since the epoch when this member applied the government. */
  readonly at: number
  readonly kind: TimelineKind
  /** The member the event is about. */
  readonly id: string
  /** The number of the government that recorded it. */
  readonly government: number
}

/**
 * The events between `previous` (null: the first government this member
 * applied) and `next`, leadership first. `self` is the member telling it.
 */
export function governmentEvents(
  previous: Government | null,
  next: Government,
  self: string,
  at: number,
): TimelineEvent[] {
  const event = (kind: TimelineKind, id: string): TimelineEvent => ({ at, kind, id, government: next.number })
  const leader = next.majority[0] ?? ''
  if (previous === null) {
    return [event(next.number === 1 ? 'founded' : 'joined', next.number === 1 ? leader : self)]
  }
  const events: TimelineEvent[] = []
  if (leader !== previous.majority[0]) events.push(event('elected', leader))
  const before = new Set(membersOf(previous))
  const after = new Set(membersOf(next))
  const exiled = new Set(previous.exiled)
  for (const id of next.exiled) {
    if (!exiled.has(id)) events.push(event('exiled', id))
  }
  for (const id of before) {
    if (!after.has(id) && !next.exiled.includes(id)) events.push(event('left', id))
  }
  for (const id of after) {
    if (!before.has(id)) events.push(event('admitted', id))
  }
  for (const id of next.naturalized) {
    if (!previous.naturalized.includes(id) && before.has(id)) events.push(event('naturalized', id))
  }
  const seatedBefore = new Set(parliamentOf(previous))
  const seatedAfter = new Set(parliamentOf(next))
  for (const id of seatedAfter) {
    if (!seatedBefore.has(id)) events.push(event('promoted', id))
  }
  for (const id of seatedBefore) {
    if (!seatedAfter.has(id) && after.has(id)) events.push(event('demoted', id))
  }
  return events
}

/** The last TIMELINE_EVENTS_MAX events, oldest first. */
export class Timeline {
  private readonly events: TimelineEvent[] = []
  private previous: Government | null = null

  constructor(
    private readonly self: string,
    private readonly limit = TIMELINE_EVENTS_MAX,
  ) {}

  /** Records the changes `government` brings; a government seen before changes nothing. */
  observe(government: Government, at: number): void {
    if (this.previous !== null && government.number <= this.previous.number) return
    this.events.push(...governmentEvents(this.previous, government, this.self, at))
    this.previous = government
    if (this.events.length > this.limit) this.events.splice(0, this.events.length - this.limit)
  }

  list(): readonly TimelineEvent[] {
    return this.events
  }
}
