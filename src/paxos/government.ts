import { parliamentSizeFor, quorumSize } from './quorum.js'
import type { Government, Properties, SubmitterTable } from './types.js'

/** How many exiled ids a government remembers. */
export const EXILED_REMEMBERED_MAX = 256

/**
 * Members of an island (parliament and constituents), at most: a newcomer
 * beyond it is refused (`ISLAND_FULL`), and a peer refuses a government
 * naming more.
 */
export const MEMBERS_MAX = 64

/**
 * Ids that cannot name a member: the names every object inherits
 * (`__proto__`, `constructor`, `toString`, ...). A government keys its
 * records by member id, so one of these would read or set what every record
 * inherits instead of an entry of its own.
 */
export const RESERVED_IDS: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype))

/** The seats of a government: enough to say who votes and who belongs. */
export type Seats = Pick<Government, 'majority' | 'minority' | 'constituents'>

export function parliamentOf(government: Pick<Government, 'majority' | 'minority'>): string[] {
  return [...government.majority, ...government.minority]
}

export function membersOf(government: Seats): string[] {
  return [...government.majority, ...government.minority, ...government.constituents]
}

export function isMember(government: Seats, id: string): boolean {
  return (
    government.majority.includes(id) ||
    government.minority.includes(id) ||
    government.constituents.includes(id)
  )
}

export function isParliament(government: Pick<Government, 'majority' | 'minority'>, id: string): boolean {
  return government.majority.includes(id) || government.minority.includes(id)
}

export function bootstrapGovernment(islandId: string, id: string, properties: Properties): Government {
  return {
    islandId,
    number: 1,
    promise: '1/0',
    majority: [id],
    minority: [],
    constituents: [],
    naturalized: [id],
    exiled: [],
    properties: { [id]: properties },
    arrived: { [id]: '1/0' },
    submitters: {},
  }
}

/** What a leader wants changed in the next government. */
export interface GovernmentChange {
  readonly leader: string
  readonly parliamentSize: number
  /** Members believed alive, preferred for parliament seats. */
  readonly live: ReadonlySet<string>
  readonly immigrate: ReadonlyMap<string, Properties>
  readonly naturalize: ReadonlySet<string>
  readonly exile: ReadonlySet<string>
  /** The submitter table as of the position just before the new government. */
  readonly submitters: SubmitterTable
}

/**
 * The next government: exiles removed, newcomers added as constituents,
 * naturalizations recorded, and the parliament reshaped to the largest odd
 * size the naturalized members allow, with `leader` first.
 */
export function nextGovernment(current: Government, change: GovernmentChange): Government {
  const number = current.number + 1
  const promise = `${number}/0`
  const exile = new Set([...change.exile].filter((id) => id !== change.leader && isMember(current, id)))
  const members = membersOf(current).filter((id) => !exile.has(id))
  const properties: Record<string, Properties> = {}
  const arrived: Record<string, string> = {}
  for (const id of members) {
    properties[id] = current.properties[id] ?? {}
    arrived[id] = current.arrived[id] ?? current.promise
  }
  for (const [id, props] of change.immigrate) {
    if (members.includes(id) || exile.has(id) || current.exiled.includes(id)) continue
    // Several admitted at once may each have been asked for below the limit.
    if (members.length >= MEMBERS_MAX) break
    members.push(id)
    properties[id] = props
    arrived[id] = promise
  }
  const naturalized = members.filter(
    (id) => current.naturalized.includes(id) || change.naturalize.has(id),
  )
  const parliament = chooseParliament(current, change, naturalized)
  const seated = new Set(parliament)
  const majorityCount = quorumSize(parliament.length)
  const exiled = [...current.exiled, ...exile].slice(-EXILED_REMEMBERED_MAX)
  for (const id of exiled) {
    const props = current.properties[id]
    if (props !== undefined) properties[id] = props
  }
  // Records of remembered exiles stay: a value of theirs proposed before their
  // exile may still be chosen later, and must be applied once, not twice.
  const submitters: Record<string, readonly number[]> = {}
  for (const id of [...members, ...exiled]) {
    const record = change.submitters[id]
    if (record !== undefined) submitters[id] = record
  }
  return {
    islandId: current.islandId,
    number,
    promise,
    majority: parliament.slice(0, majorityCount),
    minority: parliament.slice(majorityCount),
    constituents: members.filter((id) => !seated.has(id)),
    naturalized,
    exiled,
    properties,
    arrived,
    submitters,
  }
}

function chooseParliament(
  current: Government,
  change: GovernmentChange,
  naturalized: readonly string[],
): string[] {
  const size = parliamentSizeFor(naturalized.length, change.parliamentSize)
  const seated = parliamentOf(current)
  const rank = (id: string): number => {
    if (id === change.leader) return 0
    const live = change.live.has(id)
    const incumbent = seated.includes(id)
    if (live && incumbent) return 1
    if (live) return 2
    if (incumbent) return 3
    return 4
  }
  const order = (id: string): number => {
    const index = seated.indexOf(id)
    return index === -1 ? seated.length + naturalized.indexOf(id) : index
  }
  return [...naturalized]
    .sort((a, b) => rank(a) - rank(b) || order(a) - order(b))
    .slice(0, size)
}
