import type { Ballot } from './types.js'

export const BALLOT_ZERO: Ballot = { round: 0, id: '' }

/** Total order on ballots: by round, then by proposer id so two proposers never share a ballot. */
export function compareBallot(a: Ballot, b: Ballot): number {
  if (a.round !== b.round) return a.round < b.round ? -1 : 1
  if (a.id === b.id) return 0
  return a.id < b.id ? -1 : 1
}

/** The broken order used by the `ballot-no-tiebreak` mutant: rounds only. */
export function compareRoundOnly(a: Ballot, b: Ballot): number {
  return a.round === b.round ? 0 : a.round < b.round ? -1 : 1
}

export function ballotLabel(ballot: Ballot): string {
  return `${ballot.round}:${ballot.id}`
}

export function isBallot(value: unknown): value is Ballot {
  if (typeof value !== 'object' || value === null) return false
  const { round, id } = value as Record<string, unknown>
  return Number.isSafeInteger(round) && (round as number) >= 0 && typeof id === 'string'
}
