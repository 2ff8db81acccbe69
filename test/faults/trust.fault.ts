// Slow clients and untrusted peers. Slow-loris: 200 connections that dribble
// their headers (or body) while real traffic keeps committing; each must be
// cut within the server's configured timeout. With an island secret: unsigned,
// wrongly signed, altered, replayed, other-island and exiled-member requests,
// rightly signed ones for another member (or naming none), and a join without
// credentials, are all refused and change nothing.

import { strict as assert } from 'node:assert'
import { createHash } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { test } from 'node:test'
import { REQUEST_TIMEOUT_MS } from '../../src/cli/kv-server.js'
import { Signer } from '../../src/colleague/signature.js'
import { createRandom } from '../../src/testing/prng.js'
import { Cluster, getJson, sleep, type Health, type Member } from './cluster.js'
import { Load } from './load.js'
import { rawRequest, type RawAnswer } from './raw-http.js'
import { RUN_SEED, SKIP, TIMING } from './scenario.js'

const SLOW_CONNECTIONS = 200
const DRIBBLE_MS = 1_000
/** Slack over the configured timeout: the server's check runs on an interval, and we poll. */
const CUT_SLACK_MS = 3_000
const SLOW_LOAD_MS = 25_000

test('slow-loris: 200 slow connections are cut in time while writes keep committing', { skip: SKIP, timeout: 120_000 }, async () => {
  const seed = (RUN_SEED ^ 0x510) >>> 0
  const cluster = await Cluster.start({ island: 'faults', ...TIMING }, ['a', 'b', 'c'], 3)
  const sockets: Socket[] = []
  try {
    const leader = cluster.member(await cluster.waitLeader(5_000))
    // Lifetimes are measured here, from 'connect' to 'close'; how late this process itself ran is printed.
    const delay = monitorEventLoopDelay({ resolution: 20 })
    delay.enable()
    const openedAt = Date.now()
    const lifetimes: number[] = []
    for (let index = 0; index < SLOW_CONNECTIONS; index++) sockets.push(slowConnection(leader.port, index % 2 === 0 ? 'headers' : 'body', lifetimes, openedAt))
    const load = new Load({ seed, random: createRandom(seed), targets: () => cluster.live().map((member) => member.url), clients: 3, ratePerClient: 20, timeoutMs: 3_000 })
    load.start()
    await sleep(SLOW_LOAD_MS)
    await load.stop()
    // Node checks request timeouts every connectionsCheckingInterval: with its default (30 s) the
    // 200 connections would live up to twice REQUEST_TIMEOUT_MS, the longest close to that. Ours
    // checks every second, so on an idle machine the longest lives REQUEST_TIMEOUT_MS and a
    // second or two. A busy machine delays the server's check and this process's 'close' by
    // seconds, so the bound sits between the two: one and a half timeouts.
    const limitMs = REQUEST_TIMEOUT_MS + Math.max(CUT_SLACK_MS, REQUEST_TIMEOUT_MS / 2)
    await cluster.waitFor('every slow connection cut', Math.max(1_000, openedAt + limitMs + 5_000 - Date.now()), async () => lifetimes.length === SLOW_CONNECTIONS).catch(() => 0)
    delay.disable()
    const lagMs = Math.ceil(delay.max / 1e6)
    const ok = load.operations.filter((operation) => operation.kind === 'write' && operation.outcome === 'ok').length
    const gap = load.longestGap()
    const longest = lifetimes.length === 0 ? null : Math.max(...lifetimes)
    console.log(
      `[slow-loris] ${SLOW_CONNECTIONS} slow connections to ${leader.id}: ${lifetimes.length} cut, longest lived ${longest ?? '-'} ms ` +
        `(configured ${REQUEST_TIMEOUT_MS} ms, allowed ${limitMs} ms; this process's longest event-loop delay ${lagMs} ms); meanwhile ${ok} writes ok, longest gap ${gap.ms} ms (PAXOS_FAULTS_SEED=${RUN_SEED})`,
    )
    // The gap bound below is what says writes kept committing; the count only shows the load ran
    // (on a busy machine far fewer of the offered 60 writes a second complete than on an idle one).
    assert.ok(ok >= SLOW_LOAD_MS / 2_000, `writes stalled during the slow-loris: ${ok} ok`)
    assert.ok(gap.ms < 2_000, `no write committed for ${gap.ms} ms during the slow-loris`)
    assert.equal(lifetimes.length, SLOW_CONNECTIONS, `${SLOW_CONNECTIONS - lifetimes.length} slow connections still open ${Date.now() - openedAt} ms after they opened`)
    assert.ok((longest ?? 0) <= limitMs, `a slow connection lived ${longest} ms, past ${limitMs} ms (the timeout is ${REQUEST_TIMEOUT_MS} ms)`)
  } finally {
    for (const socket of sockets) socket.destroy()
    await cluster.close()
  }
})

function slowConnection(port: number, part: 'headers' | 'body', lifetimes: number[], openedAt: number): Socket {
  const socket = connect(port, '127.0.0.1')
  let timer: NodeJS.Timeout | undefined
  let connectedAt = openedAt
  socket.on('connect', () => {
    connectedAt = Date.now()
    socket.write(part === 'headers' ? 'GET /health HTTP/1.1\r\nhost: x\r\nx-slow: ' : 'PUT /kv/slow HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n"')
    timer = setInterval(() => socket.write('a'), DRIBBLE_MS)
  })
  socket.on('error', () => undefined)
  socket.on('close', () => {
    clearInterval(timer)
    lifetimes.push(Date.now() - connectedAt)
  })
  return socket
}

const SECRET = 'the-island-secret-for-fault-tests'

test('trust: with a secret, forged, altered, replayed, foreign and exiled requests are refused and change nothing', { skip: SKIP, timeout: 120_000 }, async () => {
  const cluster = await Cluster.start({ island: 'faults', ...TIMING, secret: SECRET }, ['a', 'b', 'c'], 3)
  try {
    const leaderId = await cluster.waitLeader(5_000)
    const leader = cluster.member(leaderId)
    const [victim] = ['a', 'b', 'c'].filter((id) => id !== leaderId) as [string]
    // Capture one real signed peer request to the leader, to replay it.
    const captured: Array<{ body: Buffer; headers: Record<string, string> }> = []
    leader.proxy.tap((route, body, headers) => {
      if (route !== '/kibitz' || captured.length > 0) return
      const kept: Record<string, string> = {}
      for (const name of ['x-paxos-signature', 'x-paxos-head-signature', 'x-paxos-timestamp', 'content-type']) {
        const value = headers[name]
        if (typeof value === 'string') kept[name] = value
      }
      captured.push({ body, headers: kept })
    })
    const probe = await fetch(`${leader.url}/kv/trust-probe`, { method: 'PUT', body: '"1"', headers: { 'content-type': 'application/json' } })
    assert.equal(probe.status, 200)
    await cluster.waitFor('a captured peer request', 5_000, async () => captured.length > 0)
    leader.proxy.tap(null)
    await cluster.waitConverged(5_000)
    const health = (await cluster.health(leaderId)) as Health
    const islandId = health.islandId as string

    // Exile one member: stop it past the timeout, then let it go (it crashes when it learns).
    cluster.signal(victim, 'SIGSTOP')
    await cluster.waitFor(`${victim} exiled`, 15_000, async () => ((await cluster.health(leaderId))?.government?.exiled ?? []).includes(victim))
    cluster.signal(victim, 'SIGCONT')
    await Promise.race([cluster.member(victim).exited, sleep(3_000)])
    await cluster.waitConverged(10_000)

    const right = new Signer(SECRET, { now: () => Date.now() })
    const wrong = new Signer('not-the-secret', { now: () => Date.now() })
    // Addressed to the member the case is sent to, so only the forgery itself is refused.
    let target = ''
    const kibitz = (from: string, island = 'faults', id = islandId): string =>
      JSON.stringify({ islandName: island, islandId: id, from, to: target, messages: [{ type: 'naturalize', id: from }] })
    const join = (id: string): string => JSON.stringify({ islandName: 'faults', id, properties: { location: 'http://127.0.0.1:9' } })
    const replay = captured[0] as { body: Buffer; headers: Record<string, string> }
    // Rightly signed, but for another of the island's members: what a request captured on its way there would be.
    const another = (): string => ['a', 'b', 'c'].find((id) => id !== target) as string
    const shutdown = (to?: string): string => JSON.stringify({ islandName: 'faults', islandId, ...(to !== undefined && { to }) })
    const bootstrap = (to?: string): string => JSON.stringify({ islandName: 'faults', ...(to !== undefined && { to }) })
    const signed = (signer: Signer, route: string, body: string, sent = body): { body: Buffer; headers: Array<[string, string]> } => ({
      body: Buffer.from(sent),
      headers: [['content-type', 'application/json'], ...Object.entries(signer.sign('POST', route, body))],
    })
    const cases: Array<{
      name: string
      route: string
      request: () => { body: Buffer; headers: Array<[string, string]> }
      expect: readonly number[]
      /** What a member other than the leader may answer, when it differs. */
      elsewhere?: readonly number[]
    }> = [
      { name: 'unsigned kibitz', route: '/kibitz', request: () => ({ body: Buffer.from(kibitz('b')), headers: [['content-type', 'application/json']] }), expect: [401] },
      { name: 'kibitz signed with a wrong key', route: '/kibitz', request: () => signed(wrong, '/kibitz', kibitz('b')), expect: [401] },
      { name: 'kibitz with an altered body', route: '/kibitz', request: () => signed(right, '/kibitz', kibitz('b'), kibitz('c')), expect: [401] },
      {
        name: 'kibitz whose body is signed but not its head',
        route: '/kibitz',
        request: () => {
          const { body, headers } = signed(right, '/kibitz', kibitz('b'))
          return { body, headers: headers.filter(([name]) => name !== 'x-paxos-head-signature') }
        },
        expect: [401],
      },
      { name: 'signature for another route', route: '/join', request: () => signed(right, '/kibitz', join('intruder')), expect: [401] },
      // The leader refuses the replay as already seen; another member as addressed to someone else.
      { name: 'replayed signed kibitz', route: '/kibitz', request: () => ({ body: replay.body, headers: Object.entries(replay.headers) }), expect: [401], elsewhere: [409] },
      { name: 'stale timestamp', route: '/kibitz', request: () => signed(new Signer(SECRET, { now: () => Date.now() - 120_000 }), '/kibitz', kibitz('b')), expect: [401] },
      { name: 'another island, its own key', route: '/kibitz', request: () => signed(wrong, '/kibitz', kibitz('b', 'elsewhere', 'x')), expect: [401] },
      { name: 'right signature, another island', route: '/kibitz', request: () => signed(right, '/kibitz', kibitz('b', 'elsewhere')), expect: [409] },
      { name: 'right signature, another island id', route: '/kibitz', request: () => signed(right, '/kibitz', kibitz('b', 'faults', 'another-id')), expect: [409] },
      { name: 'exiled member kibitz', route: '/kibitz', request: () => signed(right, '/kibitz', kibitz(victim)), expect: [204, 409, 410] },
      { name: 'exiled member join', route: '/join', request: () => signed(right, '/join', join(victim)), expect: [410] },
      { name: 'join without credentials', route: '/join', request: () => ({ body: Buffer.from(join('intruder')), headers: [['content-type', 'application/json']] }), expect: [401] },
      { name: 'join signed with a wrong key', route: '/join', request: () => signed(wrong, '/join', join('intruder')), expect: [401] },
      { name: 'unsigned shutdown', route: '/shutdown', request: () => ({ body: Buffer.from(JSON.stringify({ islandName: 'faults' })), headers: [['content-type', 'application/json']] }), expect: [401] },
      { name: 'signed shutdown for another member', route: '/shutdown', request: () => signed(right, '/shutdown', shutdown(another())), expect: [409] },
      { name: 'signed shutdown naming no member', route: '/shutdown', request: () => signed(right, '/shutdown', shutdown()), expect: [400] },
      { name: 'signed bootstrap for another member', route: '/bootstrap', request: () => signed(right, '/bootstrap', bootstrap(another())), expect: [409] },
      { name: 'signed bootstrap naming no member', route: '/bootstrap', request: () => signed(right, '/bootstrap', bootstrap()), expect: [400] },
      {
        name: 'signed oob for another member',
        route: '/oob',
        request: () => signed(right, '/oob', JSON.stringify({ islandName: 'faults', islandId, from: 'x', to: another(), arrival: null, name: 'snapshot', post: null })),
        expect: [409],
      },
      { name: 'unsigned oob', route: '/oob', request: () => ({ body: Buffer.from(JSON.stringify({ islandName: 'faults', islandId, from: 'x', arrival: null, name: 'snapshot', post: null })), headers: [['content-type', 'application/json']] }), expect: [401] },
    ]
    const hashOf = async (member: Member): Promise<string> => {
      const now = await getJson<Health>(`${member.url}/health`, 3_000)
      const map = await getJson<unknown>(`${member.url}/kv`, 3_000)
      assert.ok(now !== null && map !== null, `${member.id} stopped answering`)
      return createHash('sha256').update(JSON.stringify({ g: now.government, c: now.positions.commit, a: now.positions.applied, map })).digest('hex')
    }
    const results: string[] = []
    for (const member of cluster.live()) {
      target = member.id
      for (const testCase of cases) {
        const before = await hashOf(member)
        const { body, headers } = testCase.request()
        const answer: RawAnswer = await rawRequest(member.port, { method: 'POST', path: testCase.route, body, headers }, 5_000)
        await sleep(3 * TIMING.pingMs)
        const after = await hashOf(member)
        results.push(`${member.id} ${testCase.name}: ${answer.status}`)
        const expected = member.id === leaderId ? testCase.expect : (testCase.elsewhere ?? testCase.expect)
        assert.ok(
          answer.status !== null && expected.includes(answer.status),
          `${testCase.name} to ${member.id}: expected ${expected.join('/')}, got ${answer.status}: ${answer.text.slice(-300)}`,
        )
        assert.equal(after, before, `${testCase.name} to ${member.id} changed its log or government`)
      }
    }
    assert.ok(cluster.live().every((member) => member.alive))
    console.log(`[trust] ${results.length} forged or foreign requests refused, nothing changed: ${results.join('; ')}`)
  } finally {
    await cluster.close()
  }
})
