// A small island for the legislator's own tests: a government of three
// (a, b, c) and legislators restored into it, as a member restarted from its
// storage would be.

import assert from 'node:assert/strict'
import { bootstrapGovernment, nextGovernment } from '../../src/paxos/government.js'
import { Legislator, type LegislatorOptions } from '../../src/paxos/legislator.js'
import type { Accepted, Ballot, Government, LegislatorRestore } from '../../src/paxos/types.js'

export function properties(id: string): { location: string } {
  return { location: `http://${id}` }
}

/** Governments 1 to 4: a founds, admits b and c, and the three form a parliament (a and b the majority). */
export function parliamentOfThree(): Government {
  const none = { immigrate: new Map(), exile: new Set<string>(), submitters: {} }
  const founded = bootstrapGovernment('island', 'a', properties('a'))
  const live = new Set(['a', 'b', 'c'])
  const admitted = nextGovernment(founded, {
    ...none,
    leader: 'a',
    parliamentSize: 3,
    live,
    naturalize: new Set(),
    immigrate: new Map([['b', properties('b')], ['c', properties('c')]]),
  })
  const naturalized = nextGovernment(admitted, { ...none, leader: 'a', parliamentSize: 3, live, naturalize: new Set(['b', 'c']) })
  const seated = nextGovernment(naturalized, { ...none, leader: 'a', parliamentSize: 3, live, naturalize: new Set() })
  assert.deepEqual([seated.majority, seated.minority, seated.constituents], [['a', 'b'], ['c'], []])
  return seated
}

/** A legislator resumed from `restore`, with no submitters and no arrival of its own. */
export function restored(
  id: string,
  restore: Omit<LegislatorRestore, 'submitters' | 'arrival' | 'seq'>,
  options: Omit<LegislatorOptions, 'id' | 'random' | 'restore'> = {},
): Legislator {
  return new Legislator({ ...options, id, random: () => 0.5, restore: { ...restore, submitters: {}, arrival: null, seq: 0 } })
}

/** The ballot positions 4 to 9 were accepted under, in `values()`. */
export const OLD: Ballot = { round: 2, id: 'a' }

/** Positions 4 to 9: values of a, accepted under `OLD`. */
export function values(): Accepted[] {
  const accepted: Accepted[] = []
  for (let position = 4; position <= 9; position++) {
    accepted.push({ position, ballot: OLD, entry: { type: 'value', submission: { from: 'a', seq: position - 3, value: position } } })
  }
  return accepted
}

/** Ticks `candidate` until it leads, `voter` answering it turn by turn (nobody else hears either); fails if it does not within `ticksMax`. */
export function electWith(candidate: Legislator, voter: Legislator, ticksMax = 100): void {
  for (let ticks = 0; candidate.role !== 'leader' && ticks < ticksMax; ticks++) {
    candidate.tick()
    for (let turn = 0; turn < 4; turn++) {
      for (const { from, to, message } of candidate.ready().messages) if (to === voter.id) voter.receive(from, message)
      for (const { from, to, message } of voter.ready().messages) if (to === candidate.id) candidate.receive(from, message)
    }
  }
  assert.equal(candidate.role, 'leader', `${candidate.id} leads with ${voter.id}'s vote`)
}
