// What a leader tracks while it leads: its accept rounds in flight and what
// it knows of each member. Plain records and pure helpers; the legislator
// decides what to do with them.

import type { PositionRange } from './types.js'

/** One accept round: contiguous positions decided by one parliament. */
export interface Round {
  readonly from: number
  readonly to: number
  readonly parliament: readonly string[]
  readonly acks: Set<string>
  sentTick: number
  chosen: boolean
  /** A new government proposed by this leader (not a re-proposal). */
  readonly government: boolean
  /** What its entries take in a message (`LegislatorOptions.entryBytes`); 0 without it. */
  readonly bytes: number
}

/** What the leader knows of one member. */
export interface Progress {
  /** Its commit position as it last reported; a guess until `answered`. */
  commit: number
  answered: boolean
  heardTick: number
  /** Commit at the previous ping, to spot a member that stopped advancing; null before it answered. */
  pingCommit: number | null
  catchingUp: boolean
  chosenSentTo: number
  /** When the leader last began sending it what it lacks from its commit point; -1 before. */
  catchUpTick: number
  /** Since when its commit point has been below the leader's trim (what the leader cannot send it); -1 when it is not. */
  behindTrimTick: number
}

/**
 * A member not heard from yet. A newcomer (admitted by the current
 * government) is known to hold nothing before its arrival at `commit + 1`,
 * and is sent it at once; any other member is guessed to hold `commit`.
 */
export function newProgress(commit: number, newcomer: boolean, now: number): Progress {
  return {
    commit,
    answered: false,
    heardTick: now,
    pingCommit: newcomer ? commit : null,
    catchingUp: newcomer,
    chosenSentTo: commit,
    catchUpTick: -1,
    behindTrimTick: -1,
  }
}

/** From now on, each accept to the member carries chosen entries it lacks, from its commit point on. */
export function startCatchUp(progress: Progress, now: number): void {
  progress.catchingUp = true
  progress.catchUpTick = now
  progress.chosenSentTo = progress.commit
}

/** Records a member's answer: it was heard now, and its commit, which only moves forward once answered. */
export function hear(progress: Progress, commit: number, now: number): void {
  progress.heardTick = now
  if (commit > progress.commit || !progress.answered) {
    progress.commit = commit
    progress.answered = true
  }
}

/** Ids heard within `timeoutTicks`, with `self`. */
export function heardWithin(self: string, progress: ReadonlyMap<string, Progress>, now: number, timeoutTicks: number): Set<string> {
  const heard = new Set([self])
  for (const [id, member] of progress) {
    if (now - member.heardTick <= timeoutTicks) heard.add(id)
  }
  return heard
}

/** Index of the first round ending at or after `position`; rounds are in position order. */
function firstRoundFrom(rounds: readonly Round[], position: number): number {
  let low = 0
  let high = rounds.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if ((rounds[middle] as Round).to < position) low = middle + 1
    else high = middle
  }
  return low
}

/**
 * Adds `from`'s vote to every open round that `range` covers whole and whose
 * parliament it sits in; returns those rounds.
 */
export function acknowledge(rounds: readonly Round[], from: string, range: PositionRange): Round[] {
  const voted: Round[] = []
  for (let index = firstRoundFrom(rounds, range.from); index < rounds.length; index++) {
    const round = rounds[index] as Round
    if (round.from > range.to) break
    if (round.chosen || range.from > round.from || range.to < round.to || !round.parliament.includes(from)) continue
    round.acks.add(from)
    voted.push(round)
  }
  return voted
}

/** Positions proposed and not yet chosen, and how many of the open rounds carry a new government. */
export function inflight(rounds: readonly Round[]): { positions: number; governments: number } {
  let positions = 0
  let governments = 0
  for (const round of rounds) {
    if (round.chosen) continue
    positions += round.to - round.from + 1
    if (round.government) governments++
  }
  return { positions, governments }
}
