// Shared by the whole-colleague simulation tests: blocks of seeds that must
// keep every invariant, each failure printed with the command that replays it.

import { strict as assert } from 'node:assert'
import { test } from 'node:test'
import { simulate, type ColleagueViolation, type DurableSimulateOptions } from '../../src/testing/index.js'

/** Violations listed in one failure message, at most. */
const FAILURES_SHOWN_MAX = 10
const SEEDS_PER_TEST = 250

export function describeViolation(violation: ColleagueViolation, mutant?: string, durable = false): string {
  const mutantFlag = mutant === undefined ? '' : ` --mutant ${mutant}`
  const durableFlag = durable ? ' --durable' : ''
  return (
    `seed ${violation.seed} step ${violation.step} ${violation.invariant}: ${violation.detail}\n` +
    `  replay: npm run simulate -- --stack colleague${durableFlag} --seed ${violation.seed}${mutantFlag} --trace`
  )
}

/** COLLEAGUE_SIM_SEEDS scales the blocks (default 1: 2,000 seeds over the two files). */
function scale(): number {
  const text = process.env['COLLEAGUE_SIM_SEEDS']
  if (text === undefined || text === '') return 1
  const seeds = Number(text)
  if (!Number.isInteger(seeds) || seeds < 1) throw new Error(`COLLEAGUE_SIM_SEEDS must be a positive integer, got ${text}`)
  return seeds / 2000
}

/**
 * Seeds that showed a bug this simulator found in the legislator, now fixed.
 * Each runs as its own test (whatever the scale), so the bug it names cannot
 * come back unnoticed.
 */
export const FIXED_BUGS: ReadonlyMap<number, string> = new Map([
  [
    225,
    'liveness: after the leader crashed, two members still under government 5 (one had accepted government 7, ' +
      'naming a member that joined in government 6) could not win that member, which refused their prepare as it ' +
      'had trimmed the positions before its arrival; it now promises on the positions it holds',
  ],
  [
    1383,
    'liveness: a parliament member that never learned the newest government refused the prepare of its survivor ' +
      '(not a member of the government it had applied, though named by governments it had accepted), and the ' +
      'survivor refused the laggard (positions before its arrival trimmed): the two campaigned forever',
  ],
])

/**
 * Seeds of the durable simulation that showed a bug it found in the library,
 * now fixed, with the durable options they ran under. Each runs as its own test.
 */
export const DURABLE_FIXED_BUGS: ReadonlyArray<{ readonly seed: number; readonly durable: DurableSimulateOptions; readonly bug: string }> = [
  {
    seed: 13,
    durable: {},
    bug:
      'liveness: a member restarted from its storage four times could never write again: each restart skips the ' +
      'seqs its earlier process reserved, the gaps never close, and a leader proposes a submitter\'s seqs only ' +
      'within SUBMITTER_ABOVE_MAX of its watermark; a restarted member\'s submissions now carry a floor that ' +
      'settles every seq below it',
  },
  {
    seed: 74,
    durable: {},
    bug:
      'liveness: a member exiled while it was down came back and campaigned forever: the members that could tell ' +
      'it had themselves restarted from storage (or joined) after the exile and no longer knew where it was; ' +
      'governments now keep the properties of the exiles they remember',
  },
  {
    seed: 154,
    durable: { powerCutsInSync: 0.01 },
    bug:
      'resume: a member that found an empty log segment at a restart (the power went while it started that ' +
      'segment) removed it without syncing the directory and appended to the segment before; the power went ' +
      'again, the empty segment came back, and the torn tail of the one before now sat mid-log: STORAGE_CORRUPT. ' +
      'The removal is now synced before anything is appended',
  },
  {
    seed: 478,
    durable: {},
    bug:
      'liveness: m2, restarted from an old snapshot (government 7, where it leads by position) after it had become a ' +
      'constituent, won round 9 with the promise of m1, the sole voter of government 11, and of m3, which held the ' +
      'positions m1 had trimmed; m3 then learned it was exiled, and m1 never voted for the positions it had trimmed, ' +
      'so m2 led and could not commit, and m1 followed it and never stood again. A member now votes for the ' +
      'positions it trimmed (they are chosen, and a ballot at or above its promise carries what was chosen there)',
  },
  {
    seed: 862,
    durable: {},
    bug:
      'liveness (the same bug as seed 78): m1, exiled while down, came back under government 9, whose parliament ' +
      'was all exiled or gone, and probed only that parliament; it now probes the parliaments of the governments ' +
      'it accepted after it too, which name the leader that lives on',
  },
  {
    seed: 1116,
    durable: {},
    bug:
      'liveness (the same bug as seed 78): m2, exiled while paused, restarted earlier under government 7 whose one ' +
      'voter was exiled and gone, probed only that voter; it now probes the parliaments it accepted after it too',
  },
  {
    seed: 78,
    durable: { powerCutsInSync: 0.01 },
    bug:
      'liveness: m5, exiled while down, came back under government 7, whose members were all exiled or gone; it ' +
      'only ever talked to them, so no living member told it that it was exiled, and it campaigned forever. A ' +
      'member no leader speaks to now probes the parliaments of the governments it accepted past its commit ' +
      'point as well as its own government\'s',
  },
  {
    seed: 790,
    durable: { powerCutsInSync: 0.01 },
    bug:
      'exactly-once: m1, the one voter of government 16, sent its accept for position 144 before its own sync; ' +
      'the accept told its constituents that 144 was chosen (its acceptance alone chose it), m8 applied it and ' +
      'its enqueue was acknowledged, and the power went in the middle of m1\'s sync: 144 was lost. Every message ' +
      'of a flush now leaves after its persist',
  },
  {
    seed: 524,
    durable: { powerCutsInSync: 0.01 },
    bug:
      'exactly-once: with early accepts held back only when they told of a position chosen by an unsynced ' +
      'acceptance, a leader (m1, one of three voters) still lost position 50 to a power cut in mid-sync after ' +
      'its accepts had left; m4\'s acknowledged enqueue there was lost. Every message of a flush now leaves after ' +
      'its persist',
  },
  {
    seed: 882,
    durable: {},
    bug:
      'liveness: m1, the one voter of government 13, restarted from its storage under government 12 (its record ' +
      'of 13 chosen was lost with the island) and stood; government 12\'s five-seat parliament had three exiles, ' +
      'and m4, which applied government 13, promised with it at position 74 and its commit past it, but the ' +
      'candidate used only the accepted entries of promises and never learned it chosen. A candidate now learns ' +
      'what a promise shows chosen, and government 13 seats it alone',
  },
  {
    seed: 1158,
    durable: {},
    bug:
      'liveness: m4, the one voter of government 14, restarted from its storage under government 13 (its commit ' +
      'of 14 was lost with the island); m1, its constituent and a voter of government 13, had trimmed position ' +
      '114 (government 14) with its snapshot, so its promise did not count there, and government 13\'s third ' +
      'voter was exiled: m4 campaigned forever. Since a candidate learns what its promises show chosen, this seed ' +
      'takes another course before that point; seed 3276 (power cuts in mid-sync at 0.01) still met it',
  },
  {
    seed: 3276,
    durable: { powerCutsInSync: 0.01 },
    bug:
      'liveness: m2, the one voter of government 9, restarted from its storage under government 8 (its commit of ' +
      '9 lost with the island); m1, its constituent and a voter of government 8, had trimmed position 70 ' +
      '(government 9) with its snapshot, and government 8\'s third voter was exiled: m2 campaigned forever. A ' +
      'promise now carries the government its acceptor applied where the candidate asks for it and the acceptor ' +
      'trimmed it, and the candidate right behind it learns it',
  },
  {
    seed: 3588,
    durable: {},
    bug:
      'liveness: m1, exiled while it was down, came back under government 4 (m1, m2, m3) and did not reach m2 or ' +
      'm3 before they were exiled in turn; the one living member, m4, was named by no government m1 knew, so ' +
      'nobody told it, and it stood forever with its enqueues pending. In durable mode the leader now tells the ' +
      'exiles its government remembers that they were, every exile timeout',
  },
  {
    seed: 5209,
    durable: {},
    bug:
      'liveness: the answer to m5\'s first join request was lost after m2 had passed it on and the island had ' +
      'admitted m5; m5 was naturalized, voted and came to lead government 13 alone, and then its join() rejected ' +
      'with JOIN_FAILED when that request timed out, so its supervisor stopped the island\'s one voter. A join ' +
      'whose first request fails after the island admitted the colleague now goes on',
  },
  {
    seed: 6421,
    durable: { powerCutsInSync: 0.01 },
    bug:
      'liveness: m3, leading government 9 (m3, m2, m1), chose government 10, which exiled m1 and m2 and seated m3 ' +
      'alone; its commit of 10 was written but not synced when its accepts told the exiles, which crashed and let ' +
      'go of their directories, and the power went at m3\'s next sync. m3 came back under government 9 holding ' +
      'government 10 only as accepted, and no member that knew it chosen was left. A flush that commits a ' +
      'government now syncs its commit point before its messages leave',
  },
  {
    seed: 510041,
    durable: { powerCutsInSync: 0.05 },
    bug:
      'liveness: m3 led and applied government 19, which exiled it and m4; its last word, that 19 was chosen, ' +
      'waited in the kibitzer for the next flush (what commits is held one flush) and was dropped when the exile ' +
      'crashed it, and so was m4\'s after it. m1 and m2 never learned 19 from anyone, and the parliament of 18 ' +
      'had lost its quorum for good. An exile now sends what its legislator sent last, for at most a timeout, ' +
      'before it crashes',
  },
  {
    seed: 600179,
    durable: { powerCutsInSync: 0.05 },
    bug:
      'liveness: m5 told the leader it was naturalized before its first snapshot was on disk, was seated in the ' +
      'majority of government 13, and then lost its directory to a power cut; government 14, accepted by the ' +
      'leader alone, seated m5 and m6 (also gone), so no candidate could ever recover its position with a quorum ' +
      'of that parliament. A newcomer in durable mode now tells the leader only once its first snapshot is synced',
  },
  {
    seed: 511346,
    durable: { powerCutsInSync: 0.05 },
    bug:
      'resume (a false report): m3 learned it was exiled, and retired its directory, before any application had ' +
      'applied the government exiling it; the check now takes the governments each legislator committed',
  },
  {
    seed: 2000322,
    durable: { powerCutsInSync: 0.05 },
    bug:
      'liveness: government 10 left m3 its one voter and exiled m1 and m2; m1 and m2 committed it and retired ' +
      'their directories, while the power went at m3 in the sync that recorded it chosen. m3 came back under ' +
      'government 9, whose quorum needed m2, and waited forever. A durable exile now answers as an acceptor ' +
      'until a member that applied the government exiling it (its record durable) says so',
  },
]

/** Tests for seeds `first` to `last` (scaled), in blocks. */
export function seedBlocks(first: number, last: number): void {
  const end = first + Math.max(0, Math.round((last - first + 1) * scale()) - 1)
  for (let from = first; from <= end; from += SEEDS_PER_TEST) {
    const to = Math.min(end, from + SEEDS_PER_TEST - 1)
    test(`colleague seeds ${from} to ${to}: every invariant holds`, async () => {
      const failures: string[] = []
      for (let seed = from; seed <= to && failures.length < FAILURES_SHOWN_MAX; seed++) {
        if (FIXED_BUGS.has(seed)) continue
        for (const violation of (await simulate({ seed })).violations) failures.push(describeViolation(violation))
      }
      assert.equal(failures.length, 0, `violations:\n${failures.join('\n')}`)
    })
  }
  for (const [seed, bug] of FIXED_BUGS) {
    if (seed < first || seed > last) continue
    test(`colleague seed ${seed} keeps every invariant (a fixed legislator bug)`, async () => {
      const { violations } = await simulate({ seed })
      assert.deepEqual(violations.map((violation) => describeViolation(violation)), [], bug)
    })
  }
}
