// The rules of the core that the simulator breaks on purpose. The sound
// legislator runs `SOUND`; each mutant replaces one rule, so the places a
// mutant can change are named here and nowhere else in the code.

import { compareBallot, compareRoundOnly } from './ballot.js'
import { hasQuorum } from './quorum.js'
import type { Ballot } from './types.js'

/** Deliberately broken variants of the core, used only to prove the checker bites. */
export const MUTANTS = [
  'phase1-lowest-ballot',
  'commit-without-quorum',
  'drop-accepted-on-step-down',
  'apply-out-of-order',
  'ballot-no-tiebreak',
  'no-dedupe',
  'ignore-government-chain',
] as const
export type Mutant = (typeof MUTANTS)[number]

export interface Rules {
  /** The order on ballots. */
  readonly compare: (a: Ballot, b: Ballot) => number
  /** Phase 1: whether an entry accepted under a ballot ordered `order` against the one held replaces it. */
  readonly replaces: (order: number) => boolean
  /** Whether `acks` decide a round of `parliament`. */
  readonly decides: (parliament: readonly string[], acks: ReadonlySet<string>) => boolean
  /** Phase 1 also asks the parliaments of governments found accepted past the commit point. */
  readonly followsGovernmentChain: boolean
  /** On promising a higher ballot, forget what was accepted and not known chosen. */
  readonly forgetsOnPromise: boolean
  /** Apply past a gap in the log. */
  readonly skipsGaps: boolean
  /** Apply a resubmission that was already applied. */
  readonly appliesTwice: boolean
}

export const SOUND: Rules = {
  compare: compareBallot,
  replaces: (order) => order > 0,
  decides: hasQuorum,
  followsGovernmentChain: true,
  forgetsOnPromise: false,
  skipsGaps: false,
  appliesTwice: false,
}

const BROKEN: { readonly [M in Mutant]: Partial<Rules> } = {
  'phase1-lowest-ballot': { replaces: (order) => order < 0 },
  'commit-without-quorum': { decides: (_parliament, acks) => acks.size >= 1 },
  'drop-accepted-on-step-down': { forgetsOnPromise: true },
  'apply-out-of-order': { skipsGaps: true },
  'ballot-no-tiebreak': { compare: compareRoundOnly },
  'no-dedupe': { appliesTwice: true },
  'ignore-government-chain': { followsGovernmentChain: false },
}

export function rulesFor(mutant: Mutant | null | undefined): Rules {
  return mutant === null || mutant === undefined ? SOUND : { ...SOUND, ...BROKEN[mutant] }
}
