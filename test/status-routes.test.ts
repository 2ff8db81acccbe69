// The status page's routes on in-process islands over loopback: the page
// itself, the event stream's content as the island changes, the bound on open
// streams, read-only access with a secret, and streams ended at shutdown.

import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { test } from 'node:test'
import { HeardFrom } from '../src/colleague/heard.js'
import { bootstrapGovernment, nextGovernment } from '../src/paxos/government.js'
import { STATUS_STREAMS_MAX } from '../src/colleague/status/status-routes.js'
import type { StatusView } from '../src/colleague/status/status-view.js'
import { governmentEvents, Timeline } from '../src/colleague/status/timeline.js'
import type { Colleague } from '../src/index.js'
import { settle, startIsland, startMember, stopAll, waitFor } from './colleague-island.js'
import { openStream, type OpenStream } from './status-stream.js'

const WAIT_MS = 20_000

function view(event: unknown): StatusView {
  return event as StatusView
}

function statusRoutes(colleague: Colleague): { streamCount: number; gathering: boolean } {
  return (colleague as unknown as { status: { streamCount: number; gathering: boolean } }).status
}

async function fetchText(url: string, method = 'GET'): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method, agent: false, timeout: 10_000 }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (text += chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text }))
    })
    request.on('timeout', () => request.destroy(new Error(`${method} ${url} timed out`)))
    request.on('error', reject)
    request.end()
  })
}

test('successive governments tell elections, exiles, admissions, naturalizations and promotions', () => {
  const change = { parliamentSize: 5, live: new Set(['a', 'b', 'c']), naturalize: new Set<string>(), exile: new Set<string>(), submitters: {} }
  const g1 = bootstrapGovernment('island', 'a', { location: 'http://a' })
  const g2 = nextGovernment(g1, { ...change, leader: 'a', immigrate: new Map([['b', {}], ['c', {}]]) })
  const g3 = nextGovernment(g2, { ...change, leader: 'a', immigrate: new Map(), naturalize: new Set(['b', 'c']) })
  const g4 = nextGovernment(g3, { ...change, leader: 'b', immigrate: new Map(), exile: new Set(['a']) })
  const kinds = (events: readonly { kind: string; id: string }[]): string[] => events.map((event) => `${event.kind} ${event.id}`)
  assert.deepEqual(kinds(governmentEvents(null, g1, 'a', 1)), ['founded a'])
  assert.deepEqual(kinds(governmentEvents(null, g2, 'b', 1)), ['joined b'])
  assert.deepEqual(kinds(governmentEvents(g1, g2, 'a', 1)), ['admitted b', 'admitted c'])
  assert.deepEqual(kinds(governmentEvents(g2, g3, 'a', 1)), ['naturalized b', 'naturalized c', 'promoted b', 'promoted c'])
  assert.deepEqual(kinds(governmentEvents(g3, g4, 'b', 1)), ['elected b', 'exiled a', 'demoted c'], 'two members seat a parliament of one')
  const timeline = new Timeline('a', 3)
  for (const [index, government] of [g1, g2, g3, g3, g4].entries()) timeline.observe(government, index)
  assert.deepEqual(kinds(timeline.list()), ['elected b', 'exiled a', 'demoted c'], 'bounded, oldest dropped, repeats ignored')
  assert.equal(timeline.list()[2]?.government, 4)
})

test('when each member was last heard: ages of members only, the senders remembered bounded', () => {
  let now = 1_000
  const heard = new HeardFrom(() => now, 3)
  heard.record('a')
  now += 10
  heard.record('b')
  heard.record('c')
  now += 5
  assert.deepEqual(heard.ages(['a', 'b', 'x']), { a: 15, b: 5 })
  heard.record('a')
  heard.record('d') // four senders: b, heard longest ago, is forgotten
  assert.deepEqual(heard.ages(['a', 'b', 'c', 'd']), { a: 0, c: 5, d: 0 })
})

test('GET /status is one self-contained page; other methods are refused', async () => {
  const member = await startMember('status-page')
  try {
    await member.colleague.bootstrap()
    const page = await fetchText(`${member.url}/status`)
    assert.equal(page.status, 200)
    assert.match(String(page.headers['content-type']), /^text\/html/)
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'/)
    assert.doesNotMatch(String(page.headers['content-security-policy']), /unsafe-eval/, 'the page evaluates no strings')
    assert.match(page.text, /new EventSource\(/)
    assert.doesNotMatch(page.text, /<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'nothing loaded from elsewhere')
    const post = await fetchText(`${member.url}/status/events`, 'POST')
    assert.equal(post.status, 405)
    assert.equal((JSON.parse(post.text) as { error: { code: string } }).error.code, 'METHOD_NOT_ALLOWED')
    // Every GET route answers HEAD as GET, without the body; the others say so in Allow.
    for (const path of ['/status', '/health', '/metrics']) {
      const [get, head] = [await fetchText(`${member.url}${path}`), await fetchText(`${member.url}${path}`, 'HEAD')]
      assert.equal(head.status, 200, `HEAD ${path}`)
      assert.equal(head.text, '', `HEAD ${path} has no body`)
      assert.equal(head.headers['content-type'], get.headers['content-type'], `HEAD ${path}`)
      const refused = await fetchText(`${member.url}${path}`, 'DELETE')
      assert.equal(refused.status, 405, `DELETE ${path}`)
      assert.match(String(refused.headers['allow']), /^GET, HEAD$/, `DELETE ${path}`)
    }
  } finally {
    await member.colleague.shutdown()
  }
})

test('the event stream shows the island, its changes, positions and timeline, and survives the leader', async () => {
  const members = await startIsland(3, 'status-events')
  const streams: OpenStream[] = []
  try {
    await settle(members)
    const [m0, m1] = members as [(typeof members)[0], (typeof members)[0]]
    const stream = await openStream(`${m1.url}/status/events`)
    streams.push(stream)
    assert.equal(stream.status, 200)
    assert.match(String(stream.headers['content-type']), /^text\/event-stream/)
    const whole = view(
      await stream.until(
        (event) => view(event).members.length === 3 && view(event).members.every((member) => member.answering && member.commit !== null),
        WAIT_MS,
        'every member answering',
      ),
    )
    assert.equal(whole.self.id, 'm1')
    assert.equal(whole.government?.leader, 'm0')
    assert.deepEqual(whole.members.map((member) => [member.id, member.role]), [['m0', 'leader'], ['m1', 'parliament'], ['m2', 'parliament']])
    assert.equal(whole.members[0]?.location, m0.url)
    const kinds = whole.timeline.map((event) => `${event.kind} ${event.id}`)
    assert.ok(kinds.includes('joined m1') && kinds.includes('admitted m2') && kinds.includes('promoted m2'), kinds.join(', '))

    for (let n = 0; n < 20; n++) await m1.colleague.enqueue(n)
    const committed = m1.colleague.health().positions.commit
    const after = view(
      await stream.until(
        (event) => view(event).members.every((member) => (member.applied ?? -1) >= committed),
        WAIT_MS,
        `every member past position ${committed}`,
      ),
    )
    assert.ok(after.members.every((member) => member.lag === 0 || member.lag !== null))
    assert.ok(after.members.some((member) => member.heardMs !== null), 'the leader reports when it last heard from the others')

    const fromLeader = await openStream(`${m0.url}/status/events`)
    streams.push(fromLeader)
    await fromLeader.until(() => true, WAIT_MS, 'a first event from the leader')
    await m0.colleague.shutdown()
    await fromLeader.ended(WAIT_MS)
    const changed = view(
      await stream.until(
        (event) => view(event).government?.leader !== 'm0' && (view(event).government?.exiled ?? []).includes('m0'),
        WAIT_MS,
        'a new leader and m0 exiled',
      ),
    )
    const changes = changed.timeline.map((event) => `${event.kind} ${event.id}`)
    assert.ok(changes.includes(`elected ${changed.government?.leader}`) && changes.includes('exiled m0'), changes.join(', '))
  } finally {
    for (const stream of streams) stream.close()
    await stopAll(members)
  }
})

test(`at most ${STATUS_STREAMS_MAX} streams are open at once, sharing one gatherer that stops with the last`, async () => {
  const member = await startMember('status-bound')
  const streams: OpenStream[] = []
  try {
    await member.colleague.bootstrap()
    assert.equal(statusRoutes(member.colleague).gathering, false, 'nothing gathered while nobody watches')
    for (let n = 0; n < STATUS_STREAMS_MAX; n++) streams.push(await openStream(`${member.url}/status/events`))
    assert.ok(streams.every((stream) => stream.status === 200))
    assert.equal(statusRoutes(member.colleague).streamCount, STATUS_STREAMS_MAX)
    const refused = await openStream(`${member.url}/status/events`)
    assert.equal(refused.status, 503)
    assert.equal((JSON.parse(refused.refusal) as { error: { code: string } }).error.code, 'TOO_MANY_STREAMS')
    assert.ok(refused.headers['retry-after'] !== undefined)
    streams.pop()?.close()
    await waitFor(() => statusRoutes(member.colleague).streamCount < STATUS_STREAMS_MAX, WAIT_MS, 'a stream to close')
    const again = await openStream(`${member.url}/status/events`)
    streams.push(again)
    assert.equal(again.status, 200)
    assert.equal(statusRoutes(member.colleague).gathering, true)
    for (const stream of streams.splice(0)) stream.close()
    await waitFor(() => !statusRoutes(member.colleague).gathering, WAIT_MS, 'the gatherer to stop')
  } finally {
    for (const stream of streams) stream.close()
    await member.colleague.shutdown()
  }
})

test('with a secret, the page and its events need none and reveal none', async () => {
  const secret = 'status-secret-4f1c9a'
  const members = await startIsland(2, 'status-secret', { secret })
  let stream: OpenStream | null = null
  try {
    const [m0] = members as [(typeof members)[0]]
    const page = await fetchText(`${m0.url}/status`)
    assert.equal(page.status, 200)
    stream = await openStream(`${m0.url}/status/events`)
    assert.equal(stream.status, 200)
    await stream.until((event) => view(event).members.length === 2 && view(event).members.every((member) => member.answering), WAIT_MS, 'both members')
    assert.ok(!page.text.includes(secret))
    assert.ok(!JSON.stringify(stream.events).includes(secret))
  } finally {
    stream?.close()
    await stopAll(members)
  }
})
