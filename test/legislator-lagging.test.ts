// A member restarted from an old snapshot is behind the others: what they
// trimmed, it lacks. Two rules keep such an island live. A member votes for
// positions it trimmed (they are chosen, and a ballot at or above its promise
// can only carry the chosen entry there), so a leader that recovered them
// from other promises can finish them even when that member is the only voter
// left. And a member no leader speaks to probes the parliaments of every
// government it knows, those it accepted past its commit point too, so an
// exile whose old government is all gone still reaches a member that tells it.
// When every member an exile knows is gone, the leader's periodic notice to
// the exiles it remembers (durable mode) still reaches it.
// A candidate behind a promiser learns what the promise shows chosen (the
// entries up to its commit point, and the government it applied even where it
// trimmed it), so a government already chosen seats it without the quorum of
// a parliament that is gone. And the other way round: a member behind the
// government that seated a candidate refuses it as no member, and promises
// once the candidate's prepare shows that government, chosen past its commit.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { bootstrapGovernment, nextGovernment } from '../src/paxos/government.js'
import { Legislator } from '../src/paxos/legislator.js'
import type { Accepted, Ballot, Committed, Government, LegislatorRestore, Message } from '../src/paxos/types.js'
import { electWith, OLD, parliamentOfThree, properties, restored, values } from './support/legislators.js'

const PUMP_ROUNDS_MAX = 200
const TICKS_MAX = 100


/** Governments 2 to 4: a admits b and d; then a is gone and b leads; then b exiles d (it was down). */
function exiledWhileDown(): { admitted: Government; handedOn: Government; exiled: Government } {
  const none = { immigrate: new Map(), naturalize: new Set<string>(), submitters: {} }
  const founded = bootstrapGovernment('island', 'a', properties('a'))
  const admitted = nextGovernment(founded, {
    ...none,
    leader: 'a',
    parliamentSize: 1,
    live: new Set(['a']),
    exile: new Set(),
    immigrate: new Map([['b', properties('b')], ['d', properties('d')]]),
  })
  const handedOn = nextGovernment(
    { ...admitted, naturalized: ['a', 'b', 'd'] },
    { ...none, leader: 'b', parliamentSize: 1, live: new Set(['b']), exile: new Set(['a']) },
  )
  const exiled = nextGovernment(handedOn, { ...none, leader: 'b', parliamentSize: 1, live: new Set(['b']), exile: new Set(['d']) })
  return { admitted, handedOn, exiled }
}

test('a member votes for positions it trimmed: they are chosen, and any higher ballot carries what was chosen there', () => {
  const government = parliamentOfThree()
  // a learned 4 to 9 chosen and trimmed them with its snapshot at 9.
  const a = restored('a', { promised: OLD, position: 9, government, governmentPosition: 3, accepted: [], commit: 9 })
  a.ready()
  const ballot: Ballot = { round: 3, id: 'c' }
  a.receive('c', { type: 'accept', ballot, entries: values(), chosen: [], commit: 3, trim: 3 })
  const replies = a.ready().messages.filter((envelope) => envelope.to === 'c')
  assert.deepEqual(
    replies.map((envelope) => envelope.message),
    [{ type: 'accepted', ballot, ranges: [{ from: 4, to: 9 }], commit: 9 }],
    'a acknowledges every position, those it trimmed included',
  )
})

test('a member restarted from an old snapshot wins an election and finishes, with the vote of a member that trimmed what it lacks', () => {
  const government = parliamentOfThree()
  // a holds 4 to 9 chosen and trimmed them; b accepted them and never learned them chosen;
  // c restarted from a snapshot at 3 and lacks them.
  const members = new Map<string, Legislator>([
    ['a', restored('a', { promised: OLD, position: 9, government, governmentPosition: 3, accepted: [], commit: 9 })],
    ['b', restored('b', { promised: OLD, position: 3, government, governmentPosition: 3, accepted: values(), commit: 3 })],
    ['c', restored('c', { promised: { round: 1, id: 'a' }, position: 3, government, governmentPosition: 3, accepted: [], commit: 3 })],
  ])
  const c = members.get('c') as Legislator
  const committed: Committed[] = []
  const down = new Set<string>()
  const pump = (): void => {
    for (let round = 0; round < PUMP_ROUNDS_MAX; round++) {
      let sent = 0
      for (const [id, legislator] of members) {
        const ready = legislator.ready()
        if (id === 'c') committed.push(...ready.committed)
        for (const { from, to, message } of ready.messages) {
          if (down.has(to) || down.has(from)) continue
          sent++
          members.get(to)?.receive(from, message)
        }
      }
      if (sent === 0) return
    }
    assert.fail(`the island did not settle within ${PUMP_ROUNDS_MAX} rounds`)
  }
  pump()
  committed.length = 0
  // Only c's clock runs: it stands, and b's promise brings it what a trimmed.
  // b's promise reaches it, then b is lost; a is the only voter left.
  let ticks = 0
  while (c.role !== 'candidate' && ticks++ < TICKS_MAX) c.tick()
  assert.equal(c.role, 'candidate')
  const prepares = c.ready().messages
  for (const { from, to, message } of prepares) {
    const voter = members.get(to) as Legislator
    voter.receive(from, message)
    for (const reply of voter.ready().messages) if (reply.to === 'c') c.receive(reply.from, reply.message)
  }
  assert.equal(c.role, 'leader', 'b and c are a quorum that promised on every position from 4')
  down.add('b')
  pump()
  assert.ok(c.commit >= 9, `a votes for the positions it trimmed, and c finishes them (commit ${c.commit})`)
  assert.deepEqual(
    committed.slice(0, 6).map((item) => (item.entry.type === 'value' ? item.entry.submission.value : null)),
    [4, 5, 6, 7, 8, 9],
    'c applies what was chosen, in order',
  )
  // Then its own government, which a and c choose.
  const next = committed[6]?.entry
  assert.equal(next?.type === 'government' ? next.government.majority[0] : null, 'c')
})

test('an exile whose old government is all gone probes the parliaments it accepted after it, and learns it was exiled', () => {
  const { admitted, handedOn, exiled } = exiledWhileDown()
  assert.deepEqual([admitted.majority, handedOn.majority, exiled.exiled], [['a'], ['b'], ['a', 'd']])
  // d restarts from a snapshot at government 2 (led by a, who is gone); it had accepted government 3 and not learned it chosen.
  const d = restored('d', {
    promised: { round: 2, id: 'b' },
    position: 1,
    government: admitted,
    governmentPosition: 1,
    accepted: [{ position: 2, ballot: { round: 2, id: 'b' }, entry: { type: 'government', government: handedOn } }],
    commit: 1,
  })
  const b = restored('b', { promised: { round: 2, id: 'b' }, position: 3, government: exiled, governmentPosition: 3, accepted: [], commit: 3 })
  d.ready()
  b.ready()
  const probed = new Set<string>()
  for (let tick = 0; tick < TICKS_MAX && d.role !== 'exiled'; tick++) {
    d.tick()
    for (const { from, to, message } of d.ready().messages) {
      probed.add(to)
      if (to !== 'b') continue // a is gone
      b.receive(from, message)
      for (const reply of b.ready().messages) if (reply.to === 'd') d.receive(reply.from, reply.message)
    }
  }
  assert.ok(probed.has('b'), `d probes b, named by the government it accepted: ${[...probed].join(',')}`)
  assert.equal(d.role, 'exiled', 'b tells d that it was exiled')
})

/**
 * Governments 1 to 5, at positions 0 to 4: a founds, admits b to e, the five
 * form a parliament (government 4, a leading), then a, leading alone, exiles
 * b, d and e (government 5: a the whole parliament, c a constituent).
 */
function fiveThenOne(): { seated: Government; alone: Government } {
  const none = { immigrate: new Map(), exile: new Set<string>(), submitters: {} }
  const founded = bootstrapGovernment('island', 'a', properties('a'))
  const everyone = new Set(['a', 'b', 'c', 'd', 'e'])
  const admitted = nextGovernment(founded, {
    ...none,
    leader: 'a',
    parliamentSize: 5,
    live: everyone,
    naturalize: new Set(),
    immigrate: new Map(['b', 'c', 'd', 'e'].map((id) => [id, properties(id)])),
  })
  const naturalized = nextGovernment(admitted, { ...none, leader: 'a', parliamentSize: 5, live: everyone, naturalize: new Set(['b', 'c', 'd', 'e']) })
  const seated = nextGovernment(naturalized, { ...none, leader: 'a', parliamentSize: 5, live: everyone, naturalize: new Set() })
  const alone = nextGovernment(seated, {
    ...none,
    leader: 'a',
    parliamentSize: 5,
    live: new Set(['a', 'c']),
    naturalize: new Set(),
    exile: new Set(['b', 'd', 'e']),
  })
  assert.deepEqual([seated.majority.length + seated.minority.length, alone.majority, alone.minority, alone.constituents], [5, ['a'], [], ['c']])
  return { seated, alone }
}

/** `candidate` stands (only its clock runs) and hears the promises of `voters`; the others are gone. */
function stand(candidate: Legislator, voters: ReadonlyMap<string, Legislator>): Committed[] {
  const committed: Committed[] = [...candidate.ready().committed]
  for (const voter of voters.values()) voter.ready()
  for (let ticks = 0; candidate.role !== 'candidate' && ticks < TICKS_MAX; ticks++) candidate.tick()
  assert.equal(candidate.role, 'candidate')
  for (let round = 0; round < PUMP_ROUNDS_MAX; round++) {
    const ready = candidate.ready()
    committed.push(...ready.committed)
    if (ready.messages.length === 0) return committed
    for (const { from, to, message } of ready.messages) {
      const voter = voters.get(to)
      if (voter === undefined) continue
      voter.receive(from, message)
      for (const reply of voter.ready().messages) if (reply.to === candidate.id) candidate.receive(reply.from, reply.message)
    }
    if (candidate.role !== 'candidate') {
      committed.push(...candidate.ready().committed)
      return committed
    }
  }
  return assert.fail(`${candidate.id} did not settle within ${PUMP_ROUNDS_MAX} rounds`)
}

const GOVERNMENT_5: Ballot = { round: 2, id: 'a' }

test('a candidate learns a government chosen since its restart from the promise of a member that holds it, and leads it alone', () => {
  const { seated, alone } = fiveThenOne()
  const chosen: Accepted = { position: 4, ballot: GOVERNMENT_5, entry: { type: 'government', government: alone } }
  // a restarted from a snapshot at government 4 (its record of 5 chosen was lost); c applied government 5.
  // b, d and e are gone: government 4's parliament has lost its quorum for good.
  const a = restored('a', { promised: GOVERNMENT_5, position: 3, government: seated, governmentPosition: 3, accepted: [], commit: 3 })
  const c = restored('c', { promised: GOVERNMENT_5, position: 3, government: seated, governmentPosition: 3, accepted: [chosen], commit: 4 })
  const committed = stand(a, new Map([['c', c]]))
  assert.deepEqual(governments(committed), [[4, 5], [5, 6]], 'a learned government 5 from the promise of c, then chose its own')
  assert.equal(a.role, 'leader', 'government 5 seats a alone: it needs no other promise')
})

/** [position, number] of each government in `committed`. */
function governments(committed: readonly Committed[]): [number, number][] {
  return committed.flatMap((item) => (item.entry.type === 'government' ? [[item.position, item.entry.government.number] as [number, number]] : []))
}

test('a candidate learns the government a promiser applied and trimmed, when it is the next position it lacks', () => {
  const { seated, alone } = fiveThenOne()
  // As above, but c's snapshot is at position 4: it trimmed government 5 and knows it only as the government it applied.
  // a had accepted it (it proposed it) and never learned it chosen.
  const a = restored('a', {
    promised: GOVERNMENT_5,
    position: 3,
    government: seated,
    governmentPosition: 3,
    accepted: [{ position: 4, ballot: GOVERNMENT_5, entry: { type: 'government', government: alone } }],
    commit: 3,
  })
  const c = restored('c', { promised: GOVERNMENT_5, position: 4, government: alone, governmentPosition: 4, accepted: [], commit: 4 })
  const committed = stand(a, new Map([['c', c]]))
  assert.deepEqual(governments(committed), [[4, 5], [5, 6]], 'c\'s promise carries the government it applied at position 4')
  assert.equal(a.role, 'leader')
})

test('a promise carries the government its acceptor applied only where the candidate lacks it and the acceptor trimmed it', () => {
  const { alone } = fiveThenOne()
  const c = restored('c', { promised: GOVERNMENT_5, position: 4, government: alone, governmentPosition: 4, accepted: [], commit: 4 })
  c.ready()
  const promises = (from: number): unknown[] => {
    c.receive('a', { type: 'prepare', ballot: { round: 3 + from, id: 'a' }, from })
    return c.ready().messages.map(({ message }) => (message.type === 'promise' ? message.government?.position ?? null : message.type))
  }
  assert.deepEqual(promises(4), [4], 'the candidate asks from 4: c trimmed it, and tells the government there')
  assert.deepEqual(promises(5), [null], 'the candidate holds position 4 already')
})

test('an exile that knows no living member learns it was exiled from the leader\'s notice to the exiles it remembers', () => {
  const { admitted, handedOn, exiled } = exiledWhileDown()
  assert.deepEqual(exiled.properties['d'], properties('d'), 'the government remembers where its exile was')
  const run = (exileNoticeTicks: number): { d: Legislator; told: boolean } => {
    // d restarts from a snapshot at government 2: it knows only a (gone) and b as a constituent it never asks.
    const d = restored('d', { promised: { round: 2, id: 'b' }, position: 1, government: admitted, governmentPosition: 1, accepted: [], commit: 1 })
    const b = restored('b', { promised: { round: 2, id: 'b' }, position: 3, government: exiled, governmentPosition: 3, accepted: [], commit: 3 }, { exileNoticeTicks })
    d.ready()
    b.ready()
    let told = false
    for (let tick = 0; tick < TICKS_MAX && d.role !== 'exiled'; tick++) {
      b.tick()
      d.tick()
      for (const { from, to, message } of b.ready().messages) {
        if (to !== 'd') continue
        told = true
        d.receive(from, message)
      }
      d.ready() // d asks a (gone) and nobody else
    }
    return { d, told }
  }
  assert.notEqual(run(0).d.role, 'exiled', 'without the notice (memory mode) nothing reaches d')
  const { d, told } = run(10)
  assert.ok(told, 'the leader sends its notice to d, at the location its government remembers')
  assert.equal(d.role, 'exiled', 'd learns it was exiled')
})

/**
 * Governments 2 to 5 at positions 1 to 4, chosen by a alone: a admits b and
 * makes it a citizen; then it admits c and seats a parliament of three, c first.
 */
function seatedByOne(): { citizen: Government; admitted: Government; seated: Government } {
  const none = { exile: new Set<string>(), submitters: {} }
  const founded = bootstrapGovernment('island', 'a', properties('a'))
  const withB = nextGovernment(founded, { ...none, leader: 'a', parliamentSize: 1, live: new Set(['a']), naturalize: new Set(), immigrate: new Map([['b', properties('b')]]) })
  const citizen = nextGovernment(withB, { ...none, leader: 'a', parliamentSize: 1, live: new Set(['a']), naturalize: new Set(['b']), immigrate: new Map() })
  const admitted = nextGovernment(citizen, { ...none, leader: 'a', parliamentSize: 1, live: new Set(['a']), naturalize: new Set(), immigrate: new Map([['c', properties('c')]]) })
  const seated = nextGovernment(admitted, { ...none, leader: 'c', parliamentSize: 3, live: new Set(['a', 'b', 'c']), naturalize: new Set(['c']), immigrate: new Map() })
  assert.deepEqual([citizen.majority, citizen.constituents, seated.majority[0], seated.majority.length + seated.minority.length], [['a'], ['b'], 'c', 3])
  return { citizen, admitted, seated }
}

/** Ticks `c` and `b` once and carries what they send each other until both are quiet; returns the reasons `b` refused. */
function tickAndExchange(c: Legislator, b: Legislator): string[] {
  const refusals: string[] = []
  c.tick()
  b.tick()
  for (let round = 0; round < PUMP_ROUNDS_MAX; round++) {
    const toB = c.ready().messages.filter((envelope) => envelope.to === b.id)
    const toC = b.ready().messages.filter((envelope) => envelope.to === c.id)
    if (toB.length === 0 && toC.length === 0) break
    for (const { from, message } of toB) b.receive(from, message)
    for (const { from, message } of toC) {
      if (message.type === 'reject') refusals.push(message.reason)
      c.receive(from, message)
    }
  }
  return refusals
}

test('a member behind the government that seated a candidate promises once the prepare shows it; elected, the candidate exiles it', () => {
  const { citizen, admitted, seated } = seatedByOne()
  const ballot: Ballot = { round: 2, id: 'a' }
  // b missed governments 4 and 5 (c is no member of its government 3); c arrived in 4 and learned 5 chosen; a is gone.
  // Government 3's parliament (a alone) is gone for good: only c can lead, and it needs b's promise.
  const b = restored('b', { promised: ballot, position: 2, government: citizen, governmentPosition: 2, accepted: [], commit: 2 })
  const seat: Accepted = { position: 4, ballot, entry: { type: 'government', government: seated } }
  const c = restored('c', { promised: ballot, position: 3, government: admitted, governmentPosition: 3, accepted: [seat], commit: 4 })
  b.ready()
  c.ready()
  const refusals: string[] = []
  for (let ticks = 0; c.role !== 'leader' && ticks < TICKS_MAX; ticks++) refusals.push(...tickAndExchange(c, b))
  assert.equal(c.role, 'leader', `c leads with b's promise (b refused: ${refusals.join(', ')})`)
  assert.ok(refusals.includes('not-member'), 'b first refused c as no member')
  assert.deepEqual(b.properties('c'), properties('c'), 'b reaches c where the government c showed says, though it has not applied it')
  // c holds nothing before its arrival at 3, and b's commit point is 2: only a fresh start helps b.
  for (let ticks = 0; b.role !== 'exiled' && ticks < TICKS_MAX; ticks++) tickAndExchange(c, b)
  assert.equal(b.role, 'exiled', 'b learned it was exiled')
})

test('a candidate shows its government once a ballot, and only to a member behind it: refusing again gets no answer', () => {
  const { admitted, seated } = seatedByOne()
  const ballot: Ballot = { round: 2, id: 'a' }
  const seat: Accepted = { position: 4, ballot, entry: { type: 'government', government: seated } }
  const c = restored('c', { promised: ballot, position: 3, government: admitted, governmentPosition: 3, accepted: [seat], commit: 4 })
  c.ready()
  for (let ticks = 0; c.role !== 'candidate' && ticks < TICKS_MAX; ticks++) c.tick()
  const prepare = c.ready().messages.find((envelope) => envelope.to === 'b')?.message
  assert.ok(prepare?.type === 'prepare' && prepare.government === undefined, 'the first prepare carries no government')
  const refusal = (commit: number) => ({ type: 'reject', ballot: prepare.ballot, promised: ballot, commit, reason: 'not-member' }) as const
  const shown = (): number => c.ready().messages.filter(({ to, message }) => to === 'b' && message.type === 'prepare' && message.government !== undefined).length
  // Refused by a member at or past government 5 (it forgot c's exile, say): nothing to show it.
  c.receive('b', refusal(4))
  assert.equal(shown(), 0)
  // Refused by a member behind it: shown once, however often it refuses (one that ignores the government would).
  c.receive('b', refusal(2))
  assert.equal(shown(), 1)
  c.receive('b', refusal(2))
  assert.equal(shown(), 0, 'no second prepare in answer to the same refusal')
})

/**
 * Governments 5 to 7 of a, b, c and d, at positions 10 to 12, each seating
 * one member only as a constituent: a in 5, b in 6, c in 7. Then d, who led
 * 7, is gone; a holds 5, b 6, c 7.
 */
function constituentsApart(): { governments: Government[]; members: Map<string, Legislator> } {
  const ids = ['a', 'b', 'c', 'd']
  const base = {
    islandId: 'island',
    naturalized: ids,
    exiled: [],
    properties: Object.fromEntries(ids.map((id) => [id, properties(id)])),
    arrived: Object.fromEntries(ids.map((id) => [id, '1/0'])),
    submitters: {},
  }
  const seats = [
    [['b', 'd'], ['c'], ['a']],
    [['c', 'd'], ['a'], ['b']],
    [['d', 'a'], ['b'], ['c']],
  ] as const
  const governments: Government[] = seats.map(([majority, minority, constituents], index) => ({
    ...base,
    number: 5 + index,
    promise: `${5 + index}/0`,
    majority: [...majority],
    minority: [...minority],
    constituents: [...constituents],
  }))
  const promised: Ballot = { round: 5, id: 'd' }
  const entries: Accepted[] = governments.map((government, index) => ({ position: 10 + index, ballot: promised, entry: { type: 'government', government } }))
  const first = governments[0] as Government
  const members = new Map<string, Legislator>()
  // Each restarted from a snapshot at 10 and holds the later governments it learned chosen.
  for (const [id, commit] of [['a', 10], ['b', 11], ['c', 12]] as const) {
    members.set(id, restored(id, { promised, position: 10, government: first, governmentPosition: 10, accepted: entries.slice(1, commit - 9), commit }))
  }
  return { governments, members }
}

test('members that each know another government, seated in it only as constituents, learn the latest from whoever holds it, and elect a leader', () => {
  const { members } = constituentsApart()
  const a = members.get('a') as Legislator
  const b = members.get('b') as Legislator
  const c = members.get('c') as Legislator
  const deliver = (): void => {
    for (let round = 0; round < PUMP_ROUNDS_MAX; round++) {
      let sent = 0
      for (const [id, legislator] of members) {
        for (const { to, message } of legislator.ready().messages) {
          const receiver = members.get(to)
          if (receiver === undefined) continue
          sent++
          receiver.receive(id, message)
        }
      }
      if (sent === 0) return
    }
    assert.fail(`the island did not settle within ${PUMP_ROUNDS_MAX} rounds`)
  }
  deliver()
  assert.deepEqual(
    [a, b, c].map((legislator) => legislator.government?.number),
    [5, 6, 7],
    'each applied the government it held, which seats it as a constituent',
  )
  // d is gone. No constituent stands: without the others' governments, a and b never would.
  const ticksMax = 20 * TICKS_MAX
  let ticks = 0
  for (; ticks < ticksMax && ![a, b].some((legislator) => legislator.role === 'leader'); ticks++) {
    for (const legislator of members.values()) legislator.tick()
    deliver()
  }
  assert.ok(
    [a, b].some((legislator) => legislator.role === 'leader'),
    `a or b leads within ${ticksMax} ticks (governments ${[a, b, c].map((legislator) => legislator.government?.number)}, roles ${[a, b, c].map((legislator) => legislator.role)})`,
  )
  assert.ok((a.government?.number ?? 0) >= 7 && (b.government?.number ?? 0) >= 7, 'a and b learned government 7 from c')
})

test('a probe is answered with the chosen entries after its commit point, and only by a member ahead that still holds them', () => {
  const { members } = constituentsApart()
  const c = members.get('c') as Legislator
  c.ready()
  c.receive('a', { type: 'forward', submissions: [], commit: 10 })
  const answers = c.ready().messages.filter((envelope) => envelope.to === 'a').map((envelope) => envelope.message)
  assert.equal(answers.length, 1)
  const answer = answers[0]
  assert.ok(answer?.type === 'forward')
  assert.deepEqual(answer.chosen?.map((item) => item.position), [11, 12])
  // Not ahead of it, or behind what c trimmed: no answer.
  for (const commit of [12, 13, 9]) {
    c.receive('a', { type: 'forward', submissions: [], commit })
    assert.deepEqual(c.ready().messages.filter((envelope) => envelope.to === 'a'), [], `probe at ${commit}`)
  }
})

test('an exile nobody told asks the members of the government that exiled it, helps the voter that lost its record of it, and is told once that voter applies it', () => {
  const seated = parliamentOfThree()
  const none = { immigrate: new Map(), naturalize: new Set<string>(), submitters: {} }
  const alone = nextGovernment(seated, { ...none, leader: 'a', parliamentSize: 3, live: new Set(['a']), exile: new Set(['b', 'c']) })
  assert.deepEqual([alone.majority, alone.minority, alone.constituents, alone.exiled], [['a'], [], [], ['b', 'c']])
  const ballot: Ballot = { round: 3, id: 'a' }
  const change: Accepted = { position: 4, ballot, entry: { type: 'government', government: alone } }
  // b committed government 5 and is exiled; a, its one voter, accepted it and lost its record that it was chosen; c is gone.
  const b = restored('b', { promised: ballot, position: 3, government: seated, governmentPosition: 3, accepted: [change], commit: 4 })
  const a = restored('a', { promised: ballot, position: 3, government: seated, governmentPosition: 3, accepted: [change], commit: 3 })
  b.ready()
  assert.equal(b.role, 'exiled')
  assert.equal(b.exileTold, false, 'b learned it by committing the government itself')
  const probes: Message[] = []
  for (let ticks = 0; probes.length === 0 && ticks < TICKS_MAX; ticks++) {
    b.tick()
    for (const envelope of b.ready().messages) if (envelope.to === 'a') probes.push(envelope.message)
  }
  assert.deepEqual(probes, [{ type: 'forward', submissions: [], commit: 4 }], 'b asks the members of government 5')
  // Only a refusal that says so tells it.
  b.receive('a', { type: 'reject', ballot, promised: ballot, commit: 3, reason: 'ballot' })
  assert.equal(b.exileTold, false)
  // a stands under government 4, whose quorum needs b: b's promise shows government 5 chosen, and a leads it alone.
  const committed = stand(a, new Map([['b', b]]))
  assert.deepEqual(governments(committed).slice(0, 1), [[4, 5]])
  assert.equal(a.role, 'leader')
  // b's next question reaches a member that applied government 5: it is told.
  for (let ticks = 0; !b.exileTold && ticks < TICKS_MAX; ticks++) {
    b.tick()
    for (const { from, to, message } of b.ready().messages) if (to === 'a') a.receive(from, message)
    for (const { from, to, message } of a.ready().messages) if (to === 'b') b.receive(from, message)
  }
  assert.equal(b.exileTold, true)
})

/**
 * Ticks every legislator of `members` (but those `down`) `ticks` times,
 * delivering what each sends after every tick, until `until` holds; returns
 * the ticks it took, or fails.
 */
function runUntil(members: ReadonlyMap<string, Legislator>, down: ReadonlySet<string>, until: () => boolean, ticksMax: number): number {
  for (let tick = 0; tick < ticksMax; tick++) {
    if (until()) return tick
    for (const [id, legislator] of members) if (!down.has(id)) legislator.tick()
    for (let round = 0; round < PUMP_ROUNDS_MAX; round++) {
      let sent = 0
      for (const [id, legislator] of members) {
        if (down.has(id)) continue
        for (const { from, to, message } of legislator.ready().messages) {
          if (down.has(to)) continue
          sent++
          members.get(to)?.receive(from, message)
        }
      }
      if (sent === 0) break
    }
  }
  if (until()) return ticksMax
  return assert.fail(`not within ${ticksMax} ticks`)
}

/** a resumed from a snapshot at 9; b from one at 3, with 4 to 9 in its log; c from one at 3, with only 4 and 5. */
function restartedAtDifferentSnapshots(): Map<string, Legislator> {
  const government = parliamentOfThree()
  const upTo = (last: number): Accepted[] => values().filter((item) => item.position <= last)
  return new Map([
    ['a', restored('a', { promised: OLD, position: 9, government, governmentPosition: 3, accepted: [], commit: 9 })],
    ['b', restored('b', { promised: OLD, position: 3, government, governmentPosition: 3, accepted: upTo(9), commit: 9 })],
    ['c', restored('c', { promised: OLD, position: 3, government, governmentPosition: 3, accepted: upTo(5), commit: 5 })],
  ])
}

test('a member behind the snapshot its leader resumed from gets what it lacks from a member that holds it, and is not exiled', () => {
  // The whole island stopped and came back, each member from its own last
  // snapshot. a leads and holds nothing before 10; c lacks 6 to 9, which b
  // still holds: b keeps it while c is behind, and c asks b for it.
  const members = restartedAtDifferentSnapshots()
  const [a, b, c] = ['a', 'b', 'c'].map((id) => members.get(id) as Legislator) as [Legislator, Legislator, Legislator]
  electWith(a, b)
  const exiles = (): readonly string[] => a.government?.exiled ?? []
  runUntil(members, new Set(), () => c.commit >= 9, TICKS_MAX)
  assert.equal(c.role, 'follower')
  assert.deepEqual(exiles(), [], 'nobody was exiled')
  // It goes on with the island.
  assert.ok(a.enqueue('after').ok)
  runUntil(members, new Set(), () => c.commit > 10 && b.commit === c.commit, TICKS_MAX)
  assert.deepEqual(exiles(), [])
})

test('a member behind the leader\'s snapshot that nobody can bring up to date is exiled, after as long as a silent member would be', () => {
  // b, which held what c lacks, is gone: only a fresh start helps c.
  const members = restartedAtDifferentSnapshots()
  const [a, b, c] = ['a', 'b', 'c'].map((id) => members.get(id) as Legislator) as [Legislator, Legislator, Legislator]
  electWith(a, b)
  const down = new Set(['b'])
  // c answers the leader at once, behind its trim: it is not exiled then,
  // but once it has stayed behind as long as a silent member would be exiled.
  const ticks = runUntil(members, down, () => a.government?.exiled.includes('c') === true, 4 * TICKS_MAX)
  assert.ok(ticks > 10, `exiled after ${ticks} ticks, not at once`)
  assert.equal(c.commit, 5)
})

test('a leader that resumed holding the chosen entries just below its snapshot brings a member behind it up to date itself', () => {
  // As above, b is gone; but a's log kept 4 to 9 below its snapshot at 9
  // (durable mode retains one snapshot interval), so it sends c 6 to 9.
  const government = parliamentOfThree()
  const retained = values().filter((item) => item.position >= 4 && item.position <= 9)
  const members = restartedAtDifferentSnapshots()
  members.set('a', restored('a', { promised: OLD, position: 9, government, governmentPosition: 3, accepted: [], retained, commit: 9 }))
  const [a, c] = ['a', 'c'].map((id) => members.get(id) as Legislator) as [Legislator, Legislator]
  assert.equal(a.inspect().trim, 3, 'it holds 4 to 9')
  assert.equal(a.commit, 9)
  electWith(a, members.get('b') as Legislator)
  const down = new Set(['b'])
  runUntil(members, down, () => c.commit >= 9, TICKS_MAX)
  assert.deepEqual(a.government?.exiled ?? [], [], 'nobody was exiled')
  assert.ok(a.enqueue('after').ok)
  runUntil(members, down, () => c.commit > 10 && c.commit === a.commit, TICKS_MAX)
  assert.deepEqual(a.government?.exiled ?? [], [])
})

test('a restored log outputs none of its retained entries again, and refuses a run of them that does not end at the snapshot', () => {
  const government = parliamentOfThree()
  const retained = values().filter((item) => item.position >= 4 && item.position <= 9)
  const a = restored('a', { promised: OLD, position: 9, government, governmentPosition: 3, accepted: [], retained, commit: 9 })
  assert.deepEqual(
    a.ready().committed.map((committed: Committed) => committed.position),
    [],
  )
  assert.throws(() => restored('a', { promised: OLD, position: 9, government, governmentPosition: 3, accepted: [], retained: retained.slice(0, -1), commit: 9 }))
})

test('a promise leaves out the entries retained below the snapshot its acceptor resumed from, as it leaves out what it trimmed', () => {
  const government = parliamentOfThree()
  const retained = values().filter((item) => item.position >= 4 && item.position <= 9)
  const a = restored('a', { promised: OLD, position: 9, government, governmentPosition: 3, accepted: [], retained, commit: 9 })
  a.ready()
  a.receive('c', { type: 'prepare', ballot: { round: 5, id: 'c' }, from: 4 })
  const promises = a.ready().messages.flatMap(({ message }) => (message.type === 'promise' ? [message] : []))
  assert.equal(promises.length, 1)
  assert.equal(promises[0]?.from, 10, 'it answers for the positions after its snapshot only')
  assert.deepEqual(promises[0]?.accepted, [])
  assert.equal(promises[0]?.commit, 9)
})
