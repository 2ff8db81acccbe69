// What an operator sees: events, info logs, diagnostics_channel messages and
// GET /metrics, on an in-process island over loopback HTTP.

import { strict as assert } from 'node:assert'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { test } from 'node:test'
import { CHANNELS } from '../src/colleague/observe.js'
import { startIsland, stopAll, waitFor, type Member } from './colleague-island.js'
import { recordingLogger, type Line } from './support/logger.js'

interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** The Prometheus text format, version 0.0.4: HELP and TYPE comments, then `name{labels} value` lines. */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>()
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type !== null) {
      types.set(type[1] as string, type[2] as string)
      continue
    }
    if (line.startsWith('# HELP ')) continue
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line)
    assert.ok(sample !== null, `not an exposition line: ${JSON.stringify(line)}`)
    const labels: Record<string, string> = {}
    for (const pair of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] as string] = pair[2] as string
    }
    samples.push({ name: sample[1] as string, labels, value: Number(sample[3]) })
  }
  return { types, samples }
}

function valueOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    ?.value
}

/** Promotions follow naturalization: wait until every member votes. */
async function wholeParliament(members: readonly Member[]): Promise<void> {
  const founder = members[0] as Member
  await waitFor(() => {
    const government = founder.colleague.health().government
    return government !== null && government.majority.length + government.minority.length === members.length
  }, 20_000, 'every member promoted into the parliament')
}

async function scrape(member: Member): Promise<{ types: Map<string, string>; samples: Sample[]; contentType: string }> {
  const response = await fetch(`${member.url}/metrics`, { signal: AbortSignal.timeout(5_000) })
  assert.equal(response.status, 200)
  return { ...parseExposition(await response.text()), contentType: response.headers.get('content-type') ?? '' }
}

test('GET /metrics: positions, government, leadership and enqueue latency in the Prometheus text format', { timeout: 60_000 }, async () => {
  const members = await startIsland(3, 'metrics')
  try {
    const [leader, follower] = members as [Member, Member, Member]
    const enqueues = 20
    for (let index = 0; index < enqueues; index++) await leader.colleague.enqueue(index)
    await follower.colleague.enqueue('from a follower')
    const { types, samples, contentType } = await scrape(leader)
    assert.match(contentType, /^text\/plain; version=0\.0\.4/)
    const health = leader.colleague.health()
    const labels = { island: 'metrics', colleague: 'm0' }
    assert.equal(types.get('paxos_colleague_commit_position'), 'gauge')
    assert.equal(types.get('paxos_colleague_enqueue_duration_seconds'), 'histogram')
    assert.equal(types.get('paxos_colleague_elections_total'), 'counter')
    assert.equal(types.get('paxos_colleague_peer_request_errors_total'), 'counter')
    assert.equal(valueOf(samples, 'paxos_colleague_up', labels), 1)
    assert.equal(valueOf(samples, 'paxos_colleague_is_leader', labels), 1)
    assert.equal(valueOf(samples, 'paxos_colleague_government_number', labels), health.government?.number)
    assert.equal(valueOf(samples, 'paxos_colleague_applied_position', labels), health.positions.applied)
    assert.ok((valueOf(samples, 'paxos_colleague_commit_position', labels) ?? -1) >= health.positions.applied - 0)
    assert.equal(valueOf(samples, 'paxos_colleague_pending_enqueues', labels), 0)
    assert.equal(valueOf(samples, 'paxos_colleague_parliament_members', labels), 3)
    assert.equal(valueOf(samples, 'paxos_colleague_elections_total', labels), 1)
    assert.equal(valueOf(samples, 'paxos_colleague_exiles_total', labels), 0)
    // Every enqueue on the leader, and only those, is in its histogram.
    assert.equal(valueOf(samples, 'paxos_colleague_enqueue_duration_seconds_count', labels), enqueues)
    assert.equal(valueOf(samples, 'paxos_colleague_enqueue_duration_seconds_bucket', { ...labels, le: '+Inf' }), enqueues)
    let followerScrape = await scrape(follower)
    assert.equal(valueOf(followerScrape.samples, 'paxos_colleague_is_leader', { colleague: 'm1' }), 0)
    assert.equal(valueOf(followerScrape.samples, 'paxos_colleague_enqueue_duration_seconds_count', { colleague: 'm1' }), 1)
    // A barrier (a consistent read) is no enqueue: the histogram does not count it.
    for (let index = 0; index < 3; index++) await follower.colleague.barrier()
    followerScrape = await scrape(follower)
    assert.equal(valueOf(followerScrape.samples, 'paxos_colleague_enqueue_duration_seconds_count', { colleague: 'm1' }), 1)
    // The transport's and the request counters, between what health() had just before the scrape and
    // just after it: heartbeats go on meanwhile (the scrape itself is no request type).
    const before = leader.colleague.health()
    const sent = (await scrape(leader)).samples
    const after = leader.colleague.health()
    const between = (name: string, extra: Record<string, string>, low: number | undefined, high: number | undefined): void => {
      const value = valueOf(sent, name, { ...labels, ...extra })
      assert.ok(value !== undefined && value >= (low ?? 0) && value <= (high ?? 0), `${name} ${JSON.stringify(extra)}: ${value}, not within ${low} to ${high}`)
    }
    assert.equal(types.get('paxos_colleague_peer_sends_total'), 'counter')
    assert.equal(types.get('paxos_colleague_requests_total'), 'counter')
    assert.ok(before.transport.sends > 0 && before.transport.messagesSent >= before.transport.sends)
    between('paxos_colleague_peer_sends_total', {}, before.transport.sends, after.transport.sends)
    between('paxos_colleague_peer_messages_sent_total', {}, before.transport.messagesSent, after.transport.messagesSent)
    between('paxos_colleague_peer_messages_answered_total', {}, before.transport.messagesAnswered, after.transport.messagesAnswered)
    between('paxos_colleague_peer_messages_dropped_total', {}, before.transport.messagesDropped, after.transport.messagesDropped)
    assert.ok((before.requests['kibitz'] ?? 0) > 0, 'the leader heard its followers')
    between('paxos_colleague_requests_total', { type: 'kibitz' }, before.requests['kibitz'], after.requests['kibitz'])
    between('paxos_colleague_requests_total', { type: 'refused' }, before.requests['refused'], after.requests['refused'])
    const refused = await fetch(`${leader.url}/metrics`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(5_000) })
    assert.equal(refused.status, 405)
  } finally {
    await stopAll(members)
  }
})

test('a logger that throws, or rejects, loses its lines, not the member (nor the process): the leader admits a newcomer and writes go on', { timeout: 90_000 }, async () => {
  let failed = 0
  const throwing = (): never => {
    failed++
    throw new Error('the log sink is broken')
  }
  const rejecting = async (): Promise<never> => {
    failed++
    throw new Error('the async log sink is broken')
  }
  for (const fail of [throwing, rejecting]) {
    const logger = { trace: fail, debug: fail, info: fail, warn: fail, error: fail, child: () => logger }
    const members = await startIsland(3, `failing-logger-${fail.name}`, { logger })
    try {
      const [leader, , newcomer] = members as [Member, Member, Member]
      assert.equal(newcomer.colleague.naturalized(), true)
      await leader.colleague.enqueue('written')
      await newcomer.colleague.enqueue('written too')
      assert.ok(failed > 0, 'the logger was called, and failed')
      for (const member of members) assert.equal(member.colleague.health().state, 'member')
    } finally {
      await stopAll(members)
    }
  }
})

test('events, info logs and diagnostics_channel messages for a new leader, an exile, an admission and a promotion', { timeout: 60_000 }, async () => {
  const lines: Line[] = []
  const published: Array<{ channel: string; message: Record<string, unknown> }> = []
  const listeners = Object.values(CHANNELS).map((name) => {
    const listener = (message: unknown): void => void published.push({ channel: name, message: message as Record<string, unknown> })
    subscribe(name, listener)
    return [name, listener] as const
  })
  const members = await startIsland(3, 'observe', { logger: recordingLogger(lines) })
  try {
    await wholeParliament(members)
    const [first, second, third] = members as [Member, Member, Member]
    const atInfo = (message: string, colleagueId?: string): Line[] =>
      lines.filter((line) => line.level === 'info' && line.message === message && (colleagueId === undefined || line.fields['colleagueId'] === colleagueId))
    // Admitted and promoted, as the founder saw it.
    for (const member of ['m1', 'm2']) {
      assert.ok(atInfo('member admitted', 'm0').some((line) => line.fields['member'] === member), `m0 logged ${member} admitted`)
      assert.ok(atInfo('member promoted', 'm0').some((line) => line.fields['member'] === member), `m0 logged ${member} promoted`)
    }
    assert.equal(typeof atInfo('member admitted', 'm0')[0]?.fields['government'], 'number')
    assert.equal(atInfo('elected leader', 'm0').length, 1)
    assert.ok(published.some((entry) => entry.channel === CHANNELS.promoted && entry.message['member'] === 'm2'))

    // Nothing per request at info: whatever shows there while values are enqueued is a change of the
    // island (on a busy machine a slow member may be suspected and come back), never a line per request.
    const before = lines.length
    for (let index = 0; index < 30; index++) await (index % 2 === 0 ? second : first).colleague.enqueue(index)
    const changes = new Set(['elected leader', 'new leader', 'lost leadership', 'member exiled', 'member admitted', 'member promoted', 'quorum regained'])
    const perRequest = lines.slice(before).filter((line) => line.level === 'info' && !changes.has(line.message))
    assert.deepEqual(perRequest, [], 'enqueues log nothing at info')

    const leaderEvents: Array<{ leader: string; number: number }> = []
    const exiledEvents: string[] = []
    for (const member of [second, third]) {
      member.colleague.on('leader', (change) => leaderEvents.push({ leader: change.leader, number: change.government.number }))
      member.colleague.on('exiled', (change) => exiledEvents.push(change.member))
    }
    await first.colleague.shutdown()
    await waitFor(() => exiledEvents.filter((id) => id === 'm0').length === 2, 20_000, 'both survivors saw m0 exiled')
    assert.ok(leaderEvents.length >= 2, 'both survivors saw a new leader')
    const newLeader = leaderEvents[0]?.leader
    assert.ok(newLeader === 'm1' || newLeader === 'm2')
    const elected = atInfo('elected leader', newLeader)
    assert.ok(elected.length === 1 && typeof elected[0]?.fields['government'] === 'number', 'the new leader logged its election with the government')
    assert.ok(atInfo('member exiled').some((line) => line.fields['member'] === 'm0' && typeof line.fields['government'] === 'number'))
    const leaderMessage = published.find((entry) => entry.channel === CHANNELS.leader && entry.message['leader'] === newLeader)
    assert.ok(leaderMessage !== undefined, 'the new leader was published on paxos-colleague:leader')
    assert.equal(leaderMessage.message['islandName'], 'observe')
    assert.ok(published.some((entry) => entry.channel === CHANNELS.exiled && entry.message['member'] === 'm0'))
    const survivor = (newLeader === 'm1' ? second : third) as Member
    const metrics = await scrape(survivor)
    assert.equal(valueOf(metrics.samples, 'paxos_colleague_exiles_total'), 1)
    assert.equal(valueOf(metrics.samples, 'paxos_colleague_is_leader'), 1)
  } finally {
    for (const [name, listener] of listeners) unsubscribe(name, listener)
    await stopAll(members)
  }
})

test('quorum lost is logged once when the leader stops hearing a majority, and published', { timeout: 60_000 }, async () => {
  const lines: Line[] = []
  const lost: unknown[] = []
  const listener = (message: unknown): void => void lost.push(message)
  subscribe(CHANNELS.quorumLost, listener)
  const members = await startIsland(3, 'quorum', { logger: recordingLogger(lines) })
  try {
    await wholeParliament(members)
    const [leader, second, third] = members as [Member, Member, Member]
    const quorum: boolean[] = []
    leader.colleague.on('quorum', (change) => quorum.push(change.quorum))
    // Two of three voters gone at once: the leader cannot even exile them.
    await Promise.all([second.colleague.shutdown(), third.colleague.shutdown()])
    await waitFor(() => quorum.includes(false), 20_000, 'the leader noticed it lost its quorum')
    const warned = lines.filter((line) => line.fields['colleagueId'] === 'm0' && line.message.startsWith('quorum lost'))
    assert.equal(warned.length, 1, 'one line, not one per check')
    assert.equal(typeof warned[0]?.fields['government'], 'number')
    assert.deepEqual(warned[0]?.fields['heard'], ['m0'])
    assert.ok(lost.some((message) => (message as { colleagueId?: string }).colleagueId === 'm0'))
  } finally {
    unsubscribe(CHANNELS.quorumLost, listener)
    await stopAll(members)
  }
})
