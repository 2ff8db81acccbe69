// request() dispatch and the HTTP routes: unknown types, bad bodies, other
// islands and unsigned outsiders are refused with a typed 4xx and change nothing.

import assert from 'node:assert/strict'
import { Agent, request as httpRequest } from 'node:http'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { Colleague, ColleagueError, ERROR_STATUS, isColleagueError, type ColleagueOptions, type Government } from '../src/index.js'
import { HEARD_SENDERS_MAX } from '../src/colleague/heard.js'
import { Signer } from '../src/colleague/signature.js'
import { TEST_TIMING, settle, startIsland, startMember, stopAll, type Member } from './colleague-island.js'

async function post(url: string, route: string, body: string | Buffer, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  })
  const text = await response.text()
  return { status: response.status, body: text.length > 0 ? (JSON.parse(text) as { error?: { code: string; message: string } }) : null }
}

/** GET with the target in absolute form (`GET http://host:port/route`), as a client sends through a proxy. */
function getAbsolute(url: string, route: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { path: `${url}${route}`, timeout: 5_000 }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (text += chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text }))
      response.on('error', reject)
    })
    request.on('timeout', () => request.destroy(new Error(`GET ${route} timed out`)))
    request.on('error', reject)
    request.end()
  })
}

/** `method route` with `body` and an `Expect` header, which fetch() does not send, on a connection the client would keep open; bounded. */
function sendExpecting(url: string, method: string, route: string, expect: string, body: string): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const agent = new Agent({ keepAlive: true })
  return new Promise<{ status: number; headers: Record<string, unknown>; text: string }>((resolve, reject) => {
    const request = httpRequest(`${url}${route}`, { method, agent, headers: { expect, 'content-type': 'application/json' }, timeout: 5_000 }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (text += chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text }))
      response.on('error', reject)
    })
    request.on('timeout', () => request.destroy(new Error(`${method} ${route} timed out`)))
    request.on('error', reject)
    request.end(body)
  }).finally(() => agent.destroy())
}

function snapshotOf(member: Member) {
  const health = member.colleague.health()
  return { values: [...member.app.values], government: health.government, commit: health.positions.commit }
}

test('request() with an unknown type gives a typed error, and so do unknown routes', { timeout: 30_000 }, async () => {
  const [member] = (await startIsland(1, 'dispatch')) as [Member]
  try {
    await assert.rejects(member.colleague.request('drop-tables', {}), (error: unknown) => {
      assert.ok(error instanceof ColleagueError)
      assert.equal(error.code, 'UNKNOWN_REQUEST')
      assert.equal(error.status, 404)
      return true
    })
    const unknown = await fetch(`${member.url}/drop-tables`, { method: 'POST', body: '{}' })
    assert.equal(unknown.status, 404)
    assert.deepEqual(((await unknown.json()) as { error: { code: string } }).error.code, 'UNKNOWN_REQUEST')
    const wrongMethod = await fetch(`${member.url}/kibitz`)
    assert.equal(wrongMethod.status, 405)
    const health = (await member.colleague.request('health')) as { islandName: string; colleagueId: string }
    assert.equal(health.islandName, 'dispatch')
    const overHttp = (await (await fetch(`${member.url}/health`)).json()) as Record<string, unknown>
    for (const key of ['startedAt', 'requests', 'islandName', 'colleagueId', 'islandId', 'government', 'leader']) {
      assert.ok(key in overHttp, key)
    }
    assert.equal(overHttp.naturalized, true)
    assert.equal(overHttp.leader, 'm0')
    // The absolute form of a target (what a client sends through a proxy) names the same route.
    const absolute = await getAbsolute(member.url, '/health')
    assert.equal(absolute.status, 200)
    assert.equal((JSON.parse(absolute.text) as { colleagueId: string }).colleagueId, 'm0')
  } finally {
    await stopAll([member])
  }
})

test('bad bodies get a 4xx JSON error and change nothing', { timeout: 30_000 }, async () => {
  const members = await startIsland(2, 'bodies', { bodyBytesMax: 64 * 1024 })
  const [first] = members as [Member]
  try {
    await first.colleague.enqueue('before')
    await settle(members)
    const before = snapshotOf(first)
    const islandId = first.colleague.health().islandId as string
    const government = first.colleague.health().government as Government
    const kibitz = (messages: unknown[]): string => JSON.stringify({ islandName: 'bodies', islandId, from: 'm1', to: 'm0', messages })
    const high = { round: 1000, id: 'm1' }
    const badEntry = (position: number): unknown => ({ position, ballot: high, entry: { type: 'value', submission: { from: 'm1', seq: 1, value: 'not json{' } } })
    const cases: [string, string | Buffer, number, string][] = [
      ['/kibitz', '{"islandName": ', 400, 'INVALID_JSON'],
      // Not UTF-8: refused before it reaches the colleague, not read with U+FFFD in place of the bad byte.
      ['/kibitz', Buffer.from('{"islandName": "bodies\xff", "from": "x", "to": "x", "messages": []}', 'latin1'), 400, 'INVALID_JSON'],
      ['/kibitz', JSON.stringify({ islandName: 'bodies', islandId, from: 'x', to: 'x', messages: [{ type: 'bogus' }] }), 400, 'INVALID_BODY'],
      ['/kibitz', JSON.stringify({ islandName: 'bodies', islandId, from: 'x', to: 'x' }), 400, 'INVALID_BODY'],
      // A value travels as its JSON text; anything else would stop every member applying it.
      ['/kibitz', JSON.stringify({ islandName: 'bodies', islandId, from: 'm1', to: 'm0', messages: [{ type: 'forward', submissions: [{ from: 'm1', seq: 9, value: 5 }] }] }), 400, 'INVALID_BODY'],
      ['/kibitz', JSON.stringify({ islandName: 'bodies', islandId, from: 'm1', to: 'm0', messages: [{ type: 'forward', submissions: [{ from: 'm1', seq: 9, value: '{not json' }] }] }), 400, 'INVALID_BODY'],
      // So must every value in a log entry a message carries: new, chosen or promised, under any ballot.
      ['/kibitz', kibitz([{ type: 'accept', ballot: high, entries: [], chosen: [badEntry(50)], commit: 50, trim: 0 }]), 400, 'INVALID_BODY'],
      ['/kibitz', kibitz([{ type: 'accept', ballot: high, entries: [badEntry(50)], chosen: [], commit: 0, trim: 0 }]), 400, 'INVALID_BODY'],
      ['/kibitz', kibitz([{ type: 'promise', ballot: high, accepted: [badEntry(50)], commit: 0, from: 0 }]), 400, 'INVALID_BODY'],
      ['/kibitz', kibitz([{ type: 'forward', submissions: [{ from: 'm1', seq: 1, value: '1' }], commit: 50, chosen: [badEntry(50)] }]), 400, 'INVALID_BODY'],
      // Messages the schema allows and the legislator would ignore: refused, so that the peer learns why it is not heard.
      ['/kibitz', kibitz([{ type: 'forward', submissions: [{ from: 'm1', seq: 0, value: '1' }] }]), 400, 'INVALID_BODY'],
      ['/kibitz', kibitz([{ type: 'forward', submissions: [{ from: 'm1', seq: 2, floor: 2, value: '1' }] }]), 400, 'INVALID_BODY'],
      ['/kibitz', kibitz([{ type: 'accepted', ballot: { round: 1, id: 'm1' }, ranges: [{ from: 5, to: 3 }], commit: 0 }]), 400, 'INVALID_BODY'],
      ['/kibitz', kibitz([{ type: 'accepted', ballot: { round: 2 ** 60, id: 'm1' }, ranges: [], commit: 0 }]), 400, 'INVALID_BODY'],
      ['/kibitz', kibitz([{ type: 'prepare', ballot: { round: 9, id: 'm1' }, from: 0, government: { position: 1, government: { ...government, majority: ['m0', 'm1'], minority: [], constituents: [] } } }]), 400, 'INVALID_BODY'],
      ['/kibitz', kibitz([{ type: 'accepted', ballot: { round: 1, id: 'm1' }, ranges: [{ from: 3, to: 5 }], commit: 0 }, { type: 'forward', submissions: [{ from: 'm1', seq: 0, value: '1' }] }]), 400, 'INVALID_BODY'],
      ['/kibitz', JSON.stringify({ islandName: 'other', islandId, from: 'x', to: 'x', messages: [] }), 409, 'WRONG_ISLAND'],
      ['/kibitz', JSON.stringify({ islandName: 'bodies', islandId: 'not-ours', from: 'x', to: 'x', messages: [] }), 409, 'WRONG_ISLAND'],
      ['/kibitz', JSON.stringify({ islandName: 'bodies', islandId, from: 'x', to: 'x', messages: ['x'.repeat(70 * 1024)] }), 413, 'BODY_TOO_LARGE'],
      ['/join', JSON.stringify({ islandName: 'bodies', id: 'z', properties: {} }), 400, 'INVALID_BODY'],
      ['/join', JSON.stringify({ islandName: 'bodies', id: 'z', properties: { location: 'ftp://x' } }), 400, 'INVALID_BODY'],
      // A newcomer's properties travel in every government after it: they are kept small.
      ['/join', JSON.stringify({ islandName: 'bodies', id: 'z', properties: { location: 'http://127.0.0.1:1', pad: 'x'.repeat(3000) } }), 400, 'INVALID_BODY'],
      ['/join', JSON.stringify({ islandName: 'bodies', id: 'z', properties: { location: 'http://127.0.0.1:1', pad: { nested: true } } }), 400, 'INVALID_BODY'],
      ['/join', JSON.stringify({ islandName: 'bodies', id: 'z', properties: { location: 'http://127.0.0.1:1', ['k'.repeat(300)]: 'x' } }), 400, 'INVALID_BODY'],
      ['/join', JSON.stringify({ islandName: 'bodies', id: 'z', properties: Object.fromEntries([['location', 'http://127.0.0.1:1'], ...Array.from({ length: 8 }, (_, index) => [`p${index}`, 'x'])]) }), 400, 'INVALID_BODY'],
      ['/join', JSON.stringify({ islandName: 'other', id: 'z', properties: { location: 'http://127.0.0.1:1' } }), 409, 'WRONG_ISLAND'],
      // Governments key their records by member id: an id every object has as a property is no member's.
      ['/join', JSON.stringify({ islandName: 'bodies', id: '__proto__', properties: { location: 'http://127.0.0.1:1' } }), 400, 'INVALID_BODY'],
      ['/join', JSON.stringify({ islandName: 'bodies', id: 'constructor', properties: { location: 'http://127.0.0.1:1' } }), 400, 'INVALID_BODY'],
      ['/kibitz', JSON.stringify({ islandName: 'bodies', islandId, from: 'm1', to: 'm0', messages: [{ type: 'forward', submissions: [{ from: 'toString', seq: 1, value: '1' }] }] }), 400, 'INVALID_BODY'],
      ['/oob', JSON.stringify({ islandName: 'bodies', islandId: 'not-ours', from: 'z', arrival: null, name: 'snapshot', post: null }), 409, 'WRONG_ISLAND'],
      ['/bootstrap', JSON.stringify({ islandName: 'bodies' }), 409, 'ALREADY_JOINED'],
      ['/bootstrap', JSON.stringify({}), 400, 'INVALID_BODY'],
      ['/shutdown', JSON.stringify({ islandName: 'other' }), 409, 'WRONG_ISLAND'],
      ['/shutdown', JSON.stringify({ islandName: 'bodies', islandId: 'not-ours' }), 409, 'WRONG_ISLAND'],
    ]
    for (const [route, body, status, code] of cases) {
      const answer = await post(first.url, route, body)
      assert.equal(answer.status, status, `${route} ${String(body).slice(0, 80)}`)
      assert.equal(answer.body?.error?.code, code, `${route} ${String(body).slice(0, 80)}`)
      assert.equal(ERROR_STATUS[code as keyof typeof ERROR_STATUS], status)
    }
    assert.deepEqual(snapshotOf(first), before)
    assert.equal(first.colleague.health().state, 'member')
    await first.colleague.enqueue('after')
    assert.deepEqual(first.app.values, ['before', 'after'])
  } finally {
    await stopAll(members)
  }
})

test('an Expect header other than 100-continue gets 417 EXPECTATION_FAILED as JSON, and changes nothing', { timeout: 30_000 }, async () => {
  const [member] = (await startIsland(1, 'expect')) as [Member]
  try {
    await member.colleague.enqueue('before')
    const before = snapshotOf(member)
    const kibitz = JSON.stringify({ islandName: 'expect', islandId: member.colleague.health().islandId, from: 'm0', to: 'm0', messages: [] })
    for (const [method, route] of [['POST', '/kibitz'], ['PUT', '/kv/e1'], ['GET', '/health']] as const) {
      const answer = await sendExpecting(member.url, method, route, 'bogus', kibitz)
      assert.equal(answer.status, 417, `${method} ${route}`)
      assert.match(String(answer.headers['content-type']), /^application\/json/)
      assert.equal(answer.headers['connection'], 'close', 'the body is not read: the connection is not reused')
      assert.deepEqual(JSON.parse(answer.text), { error: { code: 'EXPECTATION_FAILED', message: 'this server meets no Expect header but 100-continue' } })
    }
    assert.equal(ERROR_STATUS.EXPECTATION_FAILED, 417)
    // 100-continue is node's to meet, and the request goes on to its route.
    const continued = await sendExpecting(member.url, 'POST', '/kibitz', '100-continue', kibitz)
    assert.equal(continued.status, 204, continued.text)
    assert.deepEqual(snapshotOf(member), before)
    assert.equal(member.colleague.health().state, 'member')
  } finally {
    await stopAll([member])
  }
})

test('kibitz bodies under ids no member has are not remembered: they cannot crowd the members out', { timeout: 30_000 }, async () => {
  const members = await startIsland(2, 'strangers')
  const [first, second] = members as [Member, Member]
  try {
    await settle(members)
    await first.colleague.enqueue('heard')
    const islandId = first.colleague.health().islandId as string
    const other = second.colleague.colleagueId
    assert.ok(other in first.colleague.health().heardMs, 'the member is heard before')
    // More strangers than the senders remembered, with no turn of the event loop (so no member's message) between.
    for (let index = 0; index <= HEARD_SENDERS_MAX; index++) {
      await first.colleague.request('kibitz', { islandName: 'strangers', islandId, from: `stranger-${index}`, to: first.colleague.colleagueId, messages: [] })
    }
    assert.ok(other in first.colleague.health().heardMs, 'the member is still heard after them')
  } finally {
    await stopAll(members)
  }
})

test('listen() on a port in use fails with LISTEN_FAILED and may be called again once it is free', { timeout: 30_000 }, async () => {
  const occupier = createServer()
  await new Promise<void>((resolve) => occupier.listen(0, '127.0.0.1', resolve))
  const { port } = occupier.address() as AddressInfo
  const colleague = new Colleague({ islandName: 'ports', ...TEST_TIMING, host: '127.0.0.1', port, application: { entry: () => {} } })
  try {
    await assert.rejects(colleague.listen(), (error: unknown) => isColleagueError(error) && error.code === 'LISTEN_FAILED' && /EADDRINUSE/.test(String((error.cause as Error).message)))
    await new Promise((resolve) => occupier.close(resolve))
    assert.equal((await colleague.listen()).url, `http://127.0.0.1:${port}`)
    await colleague.bootstrap()
    assert.equal(colleague.health().state, 'member')
  } finally {
    occupier.close()
    await colleague.shutdown()
  }
})

test('lifecycle misuse gives typed errors', { timeout: 30_000 }, async () => {
  const idle = await startMember('lifecycle')
  const unbound = new Colleague({ islandName: 'lifecycle', ...TEST_TIMING, application: { entry: () => {} } })
  try {
    await assert.rejects(idle.colleague.enqueue(1), { code: 'NOT_JOINED' })
    await assert.rejects(idle.colleague.outOfBand('x', null), { code: 'NOT_JOINED' })
    await assert.rejects(idle.colleague.request('kibitz', { islandName: 'lifecycle', islandId: 'i', from: 'a', to: idle.colleague.colleagueId, messages: [] }), {
      code: 'NOT_JOINED',
    })
    await assert.rejects(unbound.bootstrap(), { code: 'NO_LOCATION' })
    await idle.colleague.bootstrap()
    // An out-of-band call that cannot be sent as asked is refused at the call: no request, no crash.
    const cyclic: Record<string, unknown> = {}
    cyclic['self'] = cyclic
    const misuses: [unknown, unknown][] = [[42, null], ['', null], ['x'.repeat(257), null], ['x', { n: 10n }], ['x', cyclic], ['x', { f: () => 1 }], ['x', [Number.NaN]]]
    for (const [name, post] of misuses) {
      await assert.rejects(idle.colleague.outOfBand(name as string, post), { code: 'INVALID_VALUE' }, String(name).slice(0, 20))
    }
    assert.equal(idle.colleague.health().state, 'member')
    await assert.rejects(idle.colleague.bootstrap(), { code: 'ALREADY_JOINED' })
    await assert.rejects(idle.colleague.join(idle.url), { code: 'ALREADY_JOINED' })
    assert.throws(() => new Colleague({ islandName: '', application: { entry: () => {} } }), { code: 'INVALID_OPTIONS' })
    assert.throws(() => new Colleague({ islandName: 'x', colleagueId: '__proto__', application: { entry: () => {} } }), { code: 'INVALID_OPTIONS' })
    assert.throws(() => new Colleague({ islandName: 'x', colleagueId: 'hasOwnProperty', application: { entry: () => {} } }), { code: 'INVALID_OPTIONS' })
    assert.throws(
      () => new Colleague({ islandName: 'x', pingMs: 100, timeoutMs: 50, application: { entry: () => {} } }),
      { code: 'INVALID_OPTIONS' },
    )
    await idle.colleague.shutdown()
    await assert.rejects(idle.colleague.enqueue(1), { code: 'SHUT_DOWN' })
    await idle.colleague.shutdown()
  } finally {
    await idle.colleague.shutdown()
    await unbound.shutdown()
  }
})

test('a join through a colleague that is not in an island is refused', { timeout: 30_000 }, async () => {
  const lonely = await startMember('refusal')
  const newcomer = await startMember('refusal')
  try {
    await assert.rejects(newcomer.colleague.join(lonely.url), (error: unknown) => {
      assert.ok(error instanceof ColleagueError)
      assert.equal(error.code, 'JOIN_REFUSED')
      assert.deepEqual((error.cause as { code: string }).code, 'NOT_JOINED')
      return true
    })
    assert.equal(newcomer.colleague.health().state, 'idle')
  } finally {
    await stopAll([lonely, newcomer])
  }
})

test('a shared-secret island refuses unsigned, wrongly signed and replayed requests', { timeout: 30_000 }, async () => {
  const members = await startIsland(2, 'secret', { secret: 's3cret' })
  const [first] = members as [Member]
  const outsider = await startMember('secret', { colleagueId: 'outsider' })
  const impostor = await startMember('secret', { colleagueId: 'impostor', secret: 'wrong' })
  try {
    await first.colleague.enqueue('signed')
    await settle(members)
    const before = snapshotOf(first)
    await assert.rejects(outsider.colleague.join(first.url), (error: unknown) => {
      assert.ok(error instanceof ColleagueError)
      assert.equal(error.code, 'JOIN_REFUSED')
      assert.equal((error.cause as { code: string }).code, 'UNAUTHORIZED')
      return true
    })
    // A wrong secret and a skewed clock look alike from outside: the join's error names both.
    await assert.rejects(impostor.colleague.join(first.url), { code: 'JOIN_REFUSED', message: /a secret other than the island's, or a clock more than signatureWindowMs off/ })
    const islandId = first.colleague.health().islandId as string
    const body = JSON.stringify({ islandName: 'secret', islandId, from: 'x', to: first.colleague.colleagueId, messages: [] })
    assert.equal((await post(first.url, '/kibitz', body)).status, 401)
    const signer = new Signer('s3cret', { now: () => Date.now() })
    const elsewhere = JSON.stringify({ islandName: 'secret', islandId, from: 'x', to: 'someone-else', messages: [] })
    const misaddressed = await post(first.url, '/kibitz', elsewhere, signer.sign('POST', '/kibitz', elsewhere))
    assert.equal(misaddressed.status, 409, JSON.stringify(misaddressed.body))
    const headers = signer.sign('POST', '/kibitz', body)
    assert.equal((await post(first.url, '/kibitz', body, headers)).status, 204)
    assert.equal((await post(first.url, '/kibitz', body, headers)).status, 401, 'exact replay refused')
    const stale = new Signer('s3cret', { now: () => Date.now() - 10 * 60_000 }).sign('POST', '/kibitz', body)
    assert.equal((await post(first.url, '/kibitz', body, stale)).status, 401, 'stale timestamp refused')
    const otherRoute = signer.sign('POST', '/kibitz', body)
    assert.equal((await post(first.url, '/shutdown', body, otherRoute)).status, 401, 'signature bound to its route')
    assert.equal((await fetch(`${first.url}/health`)).status, 200)
    assert.deepEqual(snapshotOf(first), before)
    await (members[1] as Member).colleague.enqueue('still writable')
  } finally {
    await stopAll([...members, outsider, impostor])
  }
})

test('on a signed island a request names its recipient: one captured for a member and replayed to another is refused MISADDRESSED and changes nothing', { timeout: 30_000 }, async () => {
  const members = await startIsland(3, 'addressed', { secret: 's3cret' })
  const [first, second, third] = members as [Member, Member, Member]
  try {
    // The newcomers joined, their state fetched out of band from the leader (each /oob names it).
    await first.colleague.enqueue('addressed')
    await settle(members)
    assert.deepEqual(third.app.values, ['addressed'])
    const islandId = first.colleague.health().islandId as string
    const signer = new Signer('s3cret', { now: () => Date.now() })
    // A /shutdown for the third member, captured and replayed to the other two within its window.
    const shutdown = JSON.stringify({ islandName: 'addressed', islandId, to: 'm2' })
    const captured = signer.sign('POST', '/shutdown', shutdown)
    for (const member of [second, first]) {
      const before = snapshotOf(member)
      const replayed = await post(member.url, '/shutdown', shutdown, captured)
      assert.equal(replayed.status, 409, JSON.stringify(replayed.body))
      assert.equal(replayed.body?.error?.code, 'MISADDRESSED')
      assert.equal(member.colleague.health().state, 'member')
      assert.deepEqual(snapshotOf(member), before)
    }
    // So are a /bootstrap and an /oob signed for another member.
    const bootstrap = JSON.stringify({ islandName: 'addressed', to: 'm2' })
    const founding = await post(second.url, '/bootstrap', bootstrap, signer.sign('POST', '/bootstrap', bootstrap))
    assert.equal(founding.body?.error?.code, 'MISADDRESSED')
    const oob = JSON.stringify({ islandName: 'addressed', islandId, from: 'm2', to: 'm0', arrival: null, name: 'snapshot', post: null })
    const outOfBand = await post(second.url, '/oob', oob, signer.sign('POST', '/oob', oob))
    assert.equal(outOfBand.status, 409, JSON.stringify(outOfBand.body))
    assert.equal(outOfBand.body?.error?.code, 'MISADDRESSED')
    // The member it names takes it.
    const stopped = await post(third.url, '/shutdown', shutdown, signer.sign('POST', '/shutdown', shutdown))
    assert.equal(stopped.status, 200, JSON.stringify(stopped.body))
    await third.colleague.shutdown()
    assert.equal(third.colleague.health().state, 'shut-down')
    assert.deepEqual([first, second].map((member) => member.colleague.health().state), ['member', 'member'])
    await second.colleague.enqueue('still writable')
  } finally {
    await stopAll(members)
  }
})

test('on a signed island a /shutdown or /bootstrap body without a recipient is refused INVALID_BODY and changes nothing', { timeout: 30_000 }, async () => {
  const members = await startIsland(2, 'unnamed', { secret: 's3cret' })
  const [first] = members as [Member]
  const idle = await startMember('unnamed', { colleagueId: 'idle', secret: 's3cret' })
  try {
    await settle(members)
    const islandId = first.colleague.health().islandId as string
    const signer = new Signer('s3cret', { now: () => Date.now() })
    const before = snapshotOf(first)
    const cases: [Member, string, string][] = [
      [first, '/shutdown', JSON.stringify({ islandName: 'unnamed', islandId })],
      [first, '/shutdown', JSON.stringify({ islandName: 'unnamed' })],
      [idle, '/shutdown', JSON.stringify({ islandName: 'unnamed' })],
      [idle, '/bootstrap', JSON.stringify({ islandName: 'unnamed' })],
    ]
    for (const [member, route, body] of cases) {
      const answer = await post(member.url, route, body, signer.sign('POST', route, body))
      assert.equal(answer.status, 400, `${route} ${body}: ${JSON.stringify(answer.body)}`)
      assert.equal(answer.body?.error?.code, 'INVALID_BODY')
      assert.match(answer.body?.error?.message ?? '', new RegExp(`^${route}: .*"to"`))
    }
    assert.equal(first.colleague.health().state, 'member')
    assert.deepEqual(snapshotOf(first), before)
    assert.equal(idle.colleague.health().state, 'idle', 'no island founded')
    assert.equal(idle.colleague.health().islandId, null)
    // Named, the same requests are taken.
    const bootstrap = JSON.stringify({ islandName: 'unnamed', to: 'idle' })
    const founded = await post(idle.url, '/bootstrap', bootstrap, signer.sign('POST', '/bootstrap', bootstrap))
    assert.equal(founded.status, 200, JSON.stringify(founded.body))
    assert.equal(idle.colleague.health().state, 'member')
    const shutdown = JSON.stringify({ islandName: 'unnamed', islandId, to: 'm0' })
    assert.equal((await post(first.url, '/shutdown', shutdown, signer.sign('POST', '/shutdown', shutdown))).status, 200)
    await first.colleague.shutdown()
    assert.equal(first.colleague.health().state, 'shut-down')
  } finally {
    await stopAll([...members, idle])
  }
})

test('without a secret a recipient is optional, and a body naming another colleague is still refused MISADDRESSED', { timeout: 30_000 }, async () => {
  const members = await startIsland(2, 'open')
  const [first, second] = members as [Member, Member]
  const idle = await startMember('open', { colleagueId: 'idle' })
  try {
    await first.colleague.enqueue('open')
    await settle(members)
    const islandId = first.colleague.health().islandId as string
    const before = snapshotOf(first)
    const cases: [Member, string, string][] = [
      [first, '/shutdown', JSON.stringify({ islandName: 'open', islandId, to: 'm1' })],
      [first, '/oob', JSON.stringify({ islandName: 'open', islandId, from: 'm1', to: 'm1', arrival: null, name: 'snapshot', post: null })],
      [idle, '/bootstrap', JSON.stringify({ islandName: 'open', to: 'm0' })],
    ]
    for (const [member, route, body] of cases) {
      const answer = await post(member.url, route, body)
      assert.equal(answer.status, 409, `${route} ${body}: ${JSON.stringify(answer.body)}`)
      assert.equal(answer.body?.error?.code, 'MISADDRESSED')
    }
    assert.equal(first.colleague.health().state, 'member')
    assert.deepEqual(snapshotOf(first), before)
    assert.equal(idle.colleague.health().state, 'idle')
    // An old client's body, without `to`, works as before.
    const stopped = await post(second.url, '/shutdown', JSON.stringify({ islandName: 'open', islandId }))
    assert.equal(stopped.status, 200, JSON.stringify(stopped.body))
    await second.colleague.shutdown()
    assert.equal(second.colleague.health().state, 'shut-down')
  } finally {
    await stopAll([...members, idle])
  }
})

test('POST /bootstrap founds an island and POST /shutdown stops the colleague', { timeout: 30_000 }, async () => {
  const member = await startMember('remote')
  try {
    const founded = await post(member.url, '/bootstrap', JSON.stringify({ islandName: 'remote' }))
    assert.equal(founded.status, 200)
    const islandId = (founded.body as unknown as { islandId: string }).islandId
    assert.equal(member.colleague.health().islandId, islandId)
    assert.equal(member.colleague.naturalized(), true)
    await member.colleague.enqueue('remote')
    const stopped = await post(member.url, '/shutdown', JSON.stringify({ islandName: 'remote', islandId }))
    assert.equal(stopped.status, 200)
    await member.colleague.shutdown()
    assert.equal(member.colleague.health().state, 'shut-down')
    await assert.rejects(fetch(`${member.url}/health`))
  } finally {
    await member.colleague.shutdown()
  }
})

test('options a program passes wrong are refused with INVALID_OPTIONS naming the option, before anything starts', () => {
  // As a program without TypeScript's checks might pass them.
  const wrong: Record<string, unknown>[] = [
    { colleagueId: 5 },
    { parliamentSize: 4 },
    { parliamentSize: 0 },
    { parliamentSize: 65 },
    { port: -1 },
    { port: 70_000 },
    { port: 1.5 },
    { host: '' },
    { secret: 5 },
    { joinTimeoutMs: -1 },
    { joinTimeoutMs: 'soon' },
    { outOfBandTimeoutMs: 0 },
    { signatureWindowMs: Number.NaN },
    // Peers refuse a newcomer whose location is longer, or not http(s) in lower case: refused here first.
    { location: `http://x/${'p'.repeat(2048)}` },
    { location: 'HTTP://x' },
    { location: 5 },
  ]
  for (const options of wrong) {
    const [name] = Object.keys(options) as [string]
    assert.throws(
      () => new Colleague({ islandName: 'x', application: { entry: () => {} }, ...options } as unknown as ColleagueOptions),
      (error: unknown) => isColleagueError(error) && error.code === 'INVALID_OPTIONS' && error.message.startsWith(name),
      JSON.stringify(options),
    )
  }
  for (const options of [{ parliamentSize: 1 }, { parliamentSize: 63 }, { port: 0 }, { joinTimeoutMs: 1 }]) {
    assert.doesNotThrow(() => new Colleague({ islandName: 'x', application: { entry: () => {} }, ...options }), JSON.stringify(options))
  }
})
