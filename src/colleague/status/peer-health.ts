// A member's GET /health as the status page needs it. A peer's answer is JSON
// from the network, so every field is checked before use; whatever does not
// fit is left out rather than trusted.

import type { Health } from '../health.js'

/** The government, reduced to what the page shows. */
export interface GovernmentSummary {
  readonly number: number
  readonly majority: readonly string[]
  readonly minority: readonly string[]
  readonly constituents: readonly string[]
  readonly naturalized: readonly string[]
  readonly exiled: readonly string[]
  readonly locations: Readonly<Record<string, string>>
}

export interface MemberHealth {
  readonly colleagueId: string
  readonly state: string
  readonly isLeader: boolean
  readonly government: GovernmentSummary | null
  readonly commit: number
  readonly applied: number
  readonly backlog: number
  readonly pending: number
  /** Milliseconds since this member last heard from each peer, when it reports it. */
  readonly heardMs: Readonly<Record<string, number>>
}

/** A list longer than this in a peer's answer is not a government we show. */
const IDS_MAX = 1024

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function ids(value: unknown): string[] | null {
  if (!Array.isArray(value) || value.length > IDS_MAX) return null
  return value.every((item) => typeof item === 'string') ? (value as string[]) : null
}

function count(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null
}

export function summarizeGovernment(value: unknown): GovernmentSummary | null {
  if (!isObject(value)) return null
  const number = count(value['number'])
  const majority = ids(value['majority'])
  const minority = ids(value['minority'])
  const constituents = ids(value['constituents'])
  const naturalized = ids(value['naturalized']) ?? []
  const exiled = ids(value['exiled']) ?? []
  if (number === null || majority === null || majority.length === 0 || minority === null || constituents === null) {
    return null
  }
  const locations: Record<string, string> = {}
  const properties = value['properties']
  if (isObject(properties)) {
    for (const id of [...majority, ...minority, ...constituents]) {
      const location = isObject(properties[id]) ? (properties[id] as Record<string, unknown>)['location'] : undefined
      if (typeof location === 'string' && /^https?:\/\//.test(location)) locations[id] = location
    }
  }
  return { number, majority, minority, constituents, naturalized, exiled, locations }
}

/** Reads a health answer; null when it is not one. */
export function readHealth(value: unknown): MemberHealth | null {
  if (!isObject(value) || typeof value['colleagueId'] !== 'string' || typeof value['state'] !== 'string') return null
  const positions = isObject(value['positions']) ? value['positions'] : {}
  const heardMs: Record<string, number> = {}
  const heard = value['heardMs']
  if (isObject(heard)) {
    for (const [id, ms] of Object.entries(heard)) {
      const age = count(ms)
      if (age !== null) heardMs[id] = age
    }
  }
  return {
    colleagueId: value['colleagueId'],
    state: value['state'],
    isLeader: value['isLeader'] === true,
    government: summarizeGovernment(value['government']),
    commit: count(positions['commit']) ?? -1,
    applied: count(positions['applied']) ?? -1,
    backlog: count(positions['backlog']) ?? 0,
    pending: count(value['pending']) ?? 0,
    heardMs,
  }
}

/** The local member's own health, already typed. */
export function ownHealth(health: Health): MemberHealth {
  return {
    colleagueId: health.colleagueId,
    state: health.state,
    isLeader: health.isLeader,
    government: health.government === null ? null : summarizeGovernment(health.government),
    commit: health.positions.commit,
    applied: health.positions.applied,
    backlog: health.positions.backlog,
    pending: health.pending,
    heardMs: health.heardMs,
  }
}
