// Reading a member's health object (GET /health) for people: the demo's
// report and `paxos-colleague health`. Defensive: health is JSON from the
// network, so every field is checked before use.

import { membersOf, parliamentOf } from '../paxos/government.js'

export interface GovernmentView {
  readonly number: number | null
  readonly promise: string | null
  readonly leader: string | null
  readonly majority: readonly string[]
  readonly minority: readonly string[]
  readonly constituents: readonly string[]
  readonly naturalized: readonly string[]
  readonly exiled: readonly string[]
  readonly locations: Readonly<Record<string, string>>
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []
}

function field(value: unknown, name: string): unknown {
  return isObject(value) ? value[name] : undefined
}

export function governmentOf(health: unknown): GovernmentView | null {
  const government = field(health, 'government')
  if (!isObject(government)) return null
  const majority = strings(government['majority'])
  const locations: Record<string, string> = {}
  const properties = government['properties']
  if (isObject(properties)) {
    for (const [id, props] of Object.entries(properties)) {
      const location = field(props, 'location')
      if (typeof location === 'string') locations[id] = location
    }
  }
  const number = government['number']
  const promise = government['promise']
  return {
    number: typeof number === 'number' ? number : null,
    promise: typeof promise === 'string' ? promise : null,
    leader: majority[0] ?? null,
    majority,
    minority: strings(government['minority']),
    constituents: strings(government['constituents']),
    naturalized: strings(government['naturalized']),
    exiled: strings(government['exiled']),
    locations,
  }
}

export { membersOf, parliamentOf }

export function colleagueIdOf(health: unknown): string | null {
  const id = field(health, 'colleagueId')
  return typeof id === 'string' ? id : null
}

/** A short line: `government 4: leader a, parliament a b c, constituents d`. */
export function describeGovernment(government: GovernmentView): string {
  const parts = [
    `government ${government.number ?? '?'}: leader ${government.leader ?? 'none'}`,
    `parliament ${list(parliamentOf(government))}`,
  ]
  if (government.constituents.length > 0) parts.push(`constituents ${list(government.constituents)}`)
  if (government.exiled.length > 0) parts.push(`exiled ${list(government.exiled)}`)
  return parts.join(', ')
}

function list(ids: readonly string[]): string {
  return ids.length === 0 ? '(none)' : ids.join(' ')
}

/** The readable form `paxos-colleague health` prints. */
export function formatHealth(url: string, health: unknown): string {
  const lines: string[] = [`health of ${url}`]
  const scalar = (name: string, label = name): void => {
    const value = field(health, name)
    if (value !== undefined && !isObject(value) && !Array.isArray(value)) lines.push(`  ${label.padEnd(14)} ${String(value)}`)
  }
  scalar('islandName', 'island')
  scalar('islandId')
  scalar('colleagueId')
  scalar('state')
  scalar('location')
  scalar('isLeader')
  scalar('naturalized')
  scalar('startedAt')
  scalar('pending')
  const government = governmentOf(health)
  if (government === null) {
    lines.push('  government     none (not in an island yet)')
  } else {
    lines.push(`  government     ${government.number ?? '?'} (promise ${government.promise ?? '?'})`)
    lines.push(`  leader         ${government.leader ?? 'none'}`)
    lines.push(`  parliament     ${list(parliamentOf(government))}`)
    lines.push(`  constituents   ${list(government.constituents)}`)
    lines.push('  members (* is the member that answered):')
    const answered = colleagueIdOf(health)
    const rows = [...membersOf(government), ...government.exiled]
    const width = Math.max(12, ...rows.map((id) => printable(id).length))
    for (const id of rows) {
      const role = government.exiled.includes(id)
        ? 'exiled'
        : id === government.leader
          ? 'leader'
          : parliamentOf(government).includes(id)
            ? 'parliament'
            : 'constituent'
      const mark = id === answered ? '*' : ' '
      const naturalized = role === 'exiled' || government.naturalized.includes(id) ? '' : ' (not naturalized)'
      lines.push(`  ${mark} ${printable(id).padEnd(width)} ${role.padEnd(11)} ${government.locations[id] ?? '-'}${naturalized}`)
    }
    if (government.exiled.length > 0) lines.push(`  exiled         ${government.exiled.join(' ')}`)
  }
  for (const name of ['positions', 'requests', 'transport']) {
    const group = field(health, name)
    if (isObject(group)) {
      const pairs = Object.entries(group)
        .filter(([, value]) => !isObject(value) && !Array.isArray(value))
        .map(([key, value]) => `${key} ${String(value)}`)
      if (pairs.length > 0) lines.push(`  ${name.padEnd(14)} ${pairs.join(', ')}`)
    }
  }
  const applying = field(health, 'applying')
  if (isObject(applying)) lines.push(`  applying       position ${String(applying['position'])}, awaited for ${String(applying['forMs'])} ms`)
  const crash = field(health, 'crash')
  if (isObject(crash)) lines.push(`  crashed        ${String(crash['code'])}: ${String(crash['message'])}`)
  // This member's own exile (durable mode: lingering until told), apart from the government's list above.
  if (field(health, 'exiled') === true) lines.push('  this member    exiled (answering as an acceptor until told)')
  const heard = field(health, 'heardMs')
  if (isObject(heard)) {
    const pairs = Object.entries(heard).map(([id, ms]) => `${id} ${ms === null ? 'never' : `${String(ms)} ms ago`}`)
    if (pairs.length > 0) lines.push(`  heard          ${pairs.join(', ')}`)
  }
  const known = new Set([
    'islandName', 'islandId', 'colleagueId', 'state', 'location', 'leader', 'isLeader', 'naturalized',
    'startedAt', 'pending', 'government', 'positions', 'applying', 'requests', 'transport', 'crash', 'exiled', 'heardMs',
  ])
  for (const [name, value] of isObject(health) ? Object.entries(health) : []) {
    if (known.has(name)) continue
    lines.push(`  ${name.padEnd(14)} ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
  }
  // Ids, locations and messages come from the island (without a secret, from anyone who can reach it):
  // a newline or a terminal escape in one must not forge or hide a line.
  return lines.map(printable).join('\n')
}

/**
 * `text` with control, line-breaking, invisible and bidirectional characters
 * written as \u escapes (applied again, it changes nothing).
 */
export function printable(text: string): string {
  return text.replace(
    /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}
