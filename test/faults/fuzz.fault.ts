// Bad input on every route of a live member: fast-check generates malformed
// JSON, wrong types, extra and missing fields, huge and negative numbers,
// wrong islands, replayed and stale peer bodies, wrong content types, bodies
// framed by length or chunked; oversized bodies both ways come on top. No
// answer may be a 5xx (beyond the documented "try later" ones), no member may
// crash, and a hash of the target's log positions, government and map must
// not move across any batch of requests that were all refused.

import { strict as assert } from 'node:assert'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import fc from 'fast-check'
import { validators } from '../../src/colleague/schemas.js'
import { Cluster, getJson, sleep, type Health } from './cluster.js'
import { Load } from './load.js'
import { rawRequest, type Framing, type RawRequest } from './raw-http.js'
import { RUN_SEED, SKIP, TIMING } from './scenario.js'
import { createRandom } from '../../src/testing/prng.js'

const REQUESTS_PER_ROUTE = Number(process.env['PAXOS_FUZZ_REQUESTS'] ?? 2_000)
/** Requests sent together before the hash is checked; one gives exact blame. */
const BATCH = 1
const REPLAY_BATCH = 8
const REQUEST_TIMEOUT_MS = 8_000
/** The island's failure-detection timeout in this test; see the cluster's start. */
const FUZZ_TIMEOUT_MS = 5_000
/** Bound on the GETs that read the leader's state: generous, the machine may be busy. */
const READ_TIMEOUT_MS = 10_000
const READ_ATTEMPTS = 3
const OVERSIZED_PER_FRAMING = 3
const COLLEAGUE_BODY_BYTES_MAX = 8 * 1024 * 1024
const KV_BODY_BYTES_MAX = 64 * 1024
const CAPTURED_MAX = 200
/** 5xx codes that mean "try later", by design, not a server fault. */
const TRANSIENT_5XX = new Set(['ARRIVAL_NOT_APPLIED', 'KV_TIMEOUT', 'KV_UNAVAILABLE', 'QUEUE_FULL'])
const ISLAND = 'faults'

interface RouteStats {
  route: string
  requests: number
  byStatus: Map<string, number>
  accepted: number
  transient5xx: number
  noAnswer: number
  hashChecks: number
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

const weird: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(null, true, false, '', -1, 0, -0, 1e308, -1e308, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1e21, 0.5, '1/0', '999999/0', 'x'.repeat(300)),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 40 }),
  fc.array(fc.integer(), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.integer(), { maxKeys: 3 }),
)

type Mutation = { readonly op: 'delete' | 'set' | 'add'; readonly at: number; readonly key: string; readonly value: Json }

const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom('delete', 'set', 'add'),
  at: fc.nat(),
  key: fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('islandName', 'islandId', 'from', 'id', '__proto__', 'constructor')),
  value: weird,
})

/** Every object or array inside `root`, with the root first. */
function containers(root: Json): Array<{ [key: string]: Json } | Json[]> {
  const found: Array<{ [key: string]: Json } | Json[]> = []
  const walk = (value: Json, depth: number): void => {
    if (value === null || typeof value !== 'object' || depth > 8 || found.length > 500) return
    found.push(value)
    for (const child of Array.isArray(value) ? value : Object.values(value)) walk(child, depth + 1)
  }
  walk(root, 0)
  return found
}

function mutate(template: Json, mutations: readonly Mutation[]): Json {
  const copy = JSON.parse(JSON.stringify(template)) as Json
  for (const change of mutations) {
    const all = containers(copy)
    const target = all[change.at % Math.max(1, all.length)]
    if (target === undefined) return change.value
    if (Array.isArray(target)) {
      const index = target.length === 0 ? 0 : change.at % target.length
      if (change.op === 'delete') target.splice(index, 1)
      else if (change.op === 'add') target.push(change.value)
      else target[index] = change.value
      continue
    }
    const keys = Object.keys(target)
    const key = change.op === 'add' || keys.length === 0 ? change.key : (keys[change.at % keys.length] as string)
    if (change.op === 'delete') delete target[key]
    else Object.defineProperty(target, key, { value: change.value, enumerable: true, writable: true, configurable: true })
  }
  return copy
}

const contentType = fc.constantFrom<string | null>(
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/json; charset=utf-16',
  'multipart/form-data; boundary=x',
  null,
)
const framing = fc.constantFrom<Framing>('length', 'length', 'chunked')

interface BodyCase {
  readonly body: Buffer
  readonly contentType: string | null
  readonly framing: Framing
  readonly kind: string
}

function bodies(templates: () => readonly Json[], guard: (body: Json) => Json): fc.Arbitrary<BodyCase> {
  const template = fc.nat().map((index) => {
    const all = templates()
    return all[index % all.length] as Json
  })
  const text = fc.oneof(
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => ({ kind: 'wrong-types', text: JSON.stringify(value) })) },
    { weight: 1, arbitrary: fc.string({ maxLength: 300 }).map((value) => ({ kind: 'malformed', text: value })) },
    {
      weight: 1,
      arbitrary: fc.tuple(template, fc.nat()).map(([value, cut]) => {
        const whole = JSON.stringify(value)
        return { kind: 'truncated', text: whole.slice(0, cut % Math.max(1, whole.length)) }
      }),
    },
    {
      weight: 4,
      arbitrary: fc
        .tuple(template, fc.array(mutation, { minLength: 1, maxLength: 3 }))
        .map(([value, changes]) => ({ kind: 'mutated', text: JSON.stringify(guard(mutate(value, changes))) })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(template, fc.string({ minLength: 1, maxLength: 20 })).map(([value, name]) => ({
        kind: 'wrong-island',
        text: JSON.stringify(guard(mutate(value, [{ op: 'set', at: 0, key: 'islandName', value: name === ISLAND ? `${name}-x` : name }]))),
      })),
    },
    { weight: 1, arbitrary: template.map((value) => ({ kind: 'replayed', text: JSON.stringify(guard(value)) })) },
  )
  return fc.record({ text, contentType, framing }).map(({ text: { kind, text: body }, contentType: type, framing: frame }) => ({
    body: Buffer.from(body, 'utf8'),
    contentType: type,
    framing: frame,
    kind,
  }))
}

const kvKey = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._~:@-]{1,20}$/).map((key) => `fz-${key}`),
  fc.string({ maxLength: 40 }).map((key) => encodeURIComponent(key)),
  fc.constantFrom('', '%', '%zz', '%00', '..', '../health', 'a/b', 'x'.repeat(300), '%E0%A4%A', '?', '#'),
)
const query = fc.oneof(
  fc.constant(''),
  fc.constantFrom('?consistent=1', '?consistent=0', '?consistent=', '?consistent=yes', '?consistent=1&consistent=2', '?%zz', '?consistent=%00'),
  fc.string({ maxLength: 20 }).map((value) => `?consistent=${encodeURIComponent(value)}`),
)

/** Accepted requests that may change the log: writes, consistent reads (a barrier), peer messages. */
function mayChange(request: RawRequest): boolean {
  if (request.path.startsWith('/kibitz')) return true
  if (request.path.startsWith('/kv') && (request.method === 'PUT' || request.method === 'DELETE')) return true
  const consistent = /[?&]consistent=(1|true|)(&|$)/.test(request.path)
  return request.path.startsWith('/kv') && consistent
}

interface RouteCase {
  readonly name: string
  readonly limit: number
  readonly arbitrary: fc.Arbitrary<RawRequest>
}

function headersOf(type: string | null): Array<[string, string]> {
  return type === null ? [] : [['content-type', type]]
}

function post(route: string, cases: fc.Arbitrary<BodyCase>, method: fc.Arbitrary<string> = fc.constant('POST')): fc.Arbitrary<RawRequest> {
  return fc.record({ method, body: cases, query }).map(({ method: verb, body, query: search }) => ({
    method: verb,
    path: `${route}${search}`,
    headers: headersOf(body.contentType),
    body: body.body,
    framing: body.framing,
  }))
}

test('fuzz: every route refuses bad input with a 4xx and changes nothing', { skip: SKIP, timeout: 600_000 }, async () => {
  const seed = (RUN_SEED ^ 0x5eed) >>> 0
  // The check below compares the leader's log and government before and after refused requests:
  // a failure detector that fires because a busy machine starved a member for half a second
  // would change them by itself. Suspicion is not what this test is about, so it is slow here.
  const cluster = await Cluster.start({ island: ISLAND, ...TIMING, timeoutMs: FUZZ_TIMEOUT_MS }, ['a', 'b', 'c'], 3)
  const captured: Json[] = []
  const stats: RouteStats[] = []
  try {
    const leader = await cluster.waitLeader(5_000)
    const target = cluster.member(leader)
    const port = target.port
    target.proxy.tap((route, body) => {
      if (route !== '/kibitz' || captured.length >= CAPTURED_MAX) return
      try {
        captured.push(JSON.parse(body.toString('utf8')) as Json)
      } catch {
        // not JSON: nothing to replay
      }
    })
    // Real traffic first, so there are real peer bodies to replay and a log to protect.
    const load = new Load({ seed, random: createRandom(seed), targets: () => cluster.live().map((member) => member.url), clients: 3, ratePerClient: 30, timeoutMs: 3_000 })
    load.start()
    await sleep(1_500)
    await load.stop()
    await cluster.waitConverged(10_000)
    target.proxy.tap(null)
    assert.ok(captured.length > 0, 'no peer bodies captured to replay')
    const health = (await cluster.health(leader)) as Health
    const islandId = health.islandId as string
    const promise = health.government?.promise ?? '1/0'

    const kibitzTemplates = (): readonly Json[] => captured
    const joinTemplate: Json = { islandName: ISLAND, id: 'fuzz-newcomer', properties: { location: 'http://127.0.0.1:9' } }
    const oobTemplate: Json = { islandName: ISLAND, islandId, from: 'fuzz', arrival: promise, name: 'snapshot', post: null }
    const notAdmitting = (body: Json): Json =>
      validators.join.Check(body) && (body as { islandName: string }).islandName === ISLAND ? { ...(body as object), islandName: `${ISLAND}-x` } : body
    const notShuttingDown = (body: Json): Json =>
      validators.shutdown.Check(body) && (body as { islandName: string }).islandName === ISLAND ? { ...(body as object), islandName: `${ISLAND}-x` } : body
    const same = (body: Json): Json => body

    const routes: RouteCase[] = [
      { name: 'POST /kibitz', limit: COLLEAGUE_BODY_BYTES_MAX, arbitrary: post('/kibitz', bodies(kibitzTemplates, same)) },
      { name: 'POST /join', limit: COLLEAGUE_BODY_BYTES_MAX, arbitrary: post('/join', bodies(() => [joinTemplate], notAdmitting)) },
      { name: 'POST /bootstrap', limit: COLLEAGUE_BODY_BYTES_MAX, arbitrary: post('/bootstrap', bodies(() => [{ islandName: ISLAND }], same)) },
      { name: 'POST /shutdown', limit: COLLEAGUE_BODY_BYTES_MAX, arbitrary: post('/shutdown', bodies(() => [{ islandName: `${ISLAND}-other`, islandId }], notShuttingDown)) },
      { name: 'POST /oob', limit: COLLEAGUE_BODY_BYTES_MAX, arbitrary: post('/oob', bodies(() => [oobTemplate], same)) },
      {
        name: 'GET /health',
        limit: COLLEAGUE_BODY_BYTES_MAX,
        arbitrary: post('/health', bodies(() => [{ islandName: ISLAND }], same), fc.constantFrom('GET', 'GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS')),
      },
      {
        name: 'PUT /kv/:key',
        limit: KV_BODY_BYTES_MAX,
        arbitrary: fc.record({ key: kvKey, body: bodies(() => [{ value: 1 }, 'text', [1, 2]], same), query }).map(({ key, body, query: search }) => ({
          method: 'PUT',
          path: `/kv/${key}${search}`,
          headers: headersOf(body.contentType),
          body: body.body,
          framing: body.framing,
        })),
      },
      {
        name: 'GET /kv/:key',
        limit: KV_BODY_BYTES_MAX,
        arbitrary: fc.record({ key: kvKey, query, method: fc.constantFrom('GET', 'GET', 'PATCH', 'POST') }).map(({ key, query: search, method }) => ({
          method,
          path: `/kv/${key}${search}`,
          framing: 'none' as const,
        })),
      },
      {
        name: 'DELETE /kv/:key',
        limit: KV_BODY_BYTES_MAX,
        arbitrary: fc.record({ key: kvKey, body: bodies(() => [{}], same) }).map(({ key, body }) => ({
          method: 'DELETE',
          path: `/kv/${key}`,
          headers: headersOf(body.contentType),
          body: body.body,
          framing: body.framing,
        })),
      },
      {
        name: 'GET /kv',
        limit: KV_BODY_BYTES_MAX,
        arbitrary: fc.record({ query, method: fc.constantFrom('GET', 'GET', 'PUT', 'DELETE') }).map(({ query: search, method }) => ({
          method,
          path: `/kv${search}`,
          framing: 'none' as const,
        })),
      },
      {
        name: 'other paths',
        limit: COLLEAGUE_BODY_BYTES_MAX,
        arbitrary: fc
          .record({
            path: fc.oneof(fc.webPath(), fc.string({ maxLength: 50 }).map((text) => `/${encodeURIComponent(text)}`), fc.constantFrom('/', '//kv', '/kibitz/', '/kv/', '/HEALTH', '*')),
            method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'BREW', 'CONNECT'),
            body: bodies(() => [{ islandName: ISLAND }], same),
          })
          .map(({ path, method, body }) => ({ method, path: path.startsWith('/') || path === '*' ? path : `/${path}`, headers: headersOf(body.contentType), body: body.body, framing: body.framing })),
      },
    ]

    /** One read of the leader's state, retried: a single lost connection on a busy machine is not a dead leader. */
    const read = async <T>(path: string): Promise<T> => {
      let last = ''
      for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
        const answer = await fetch(`${target.url}${path}`, { signal: AbortSignal.timeout(READ_TIMEOUT_MS) }).then(
          async (response) => ({ status: response.status, text: await response.text() }),
          (error: unknown) => ({ status: 0, text: String((error as Error).cause ?? error) }),
        )
        if (answer.status === 200) return JSON.parse(answer.text) as T
        last = `${answer.status} ${answer.text.slice(0, 300)}`
        await sleep(TIMING.pingMs)
      }
      assert.fail(`${leader} stopped answering GET ${path} (${READ_ATTEMPTS} tries; last: ${last})\n${target.stderrTail().slice(-3000)}`)
    }
    const hashOf = async (): Promise<string> => {
      const healthNow = await read<Health>('/health')
      const map = await read<unknown>('/kv')
      const { government, positions } = healthNow
      return createHash('sha256').update(JSON.stringify({ government, commit: positions.commit, applied: positions.applied, map })).digest('hex')
    }
    const quiet = async (): Promise<string> => {
      let last = await hashOf()
      for (let attempt = 0; attempt < 20; attempt++) {
        await sleep(3 * TIMING.pingMs)
        const next = await hashOf()
        if (next === last) return next
        last = next
      }
      return last
    }

    /** After an accepted write the target applied it before answering; a peer message may act a little later. */
    const settled = async (): Promise<string> => {
      let last = await hashOf()
      for (let attempt = 0; attempt < 20; attempt++) {
        await sleep(TIMING.pingMs / 2)
        const next = await hashOf()
        if (next === last) return next
        last = next
      }
      return last
    }
    let baseline = await quiet()
    // An idle island must keep its hash still, or the check below means nothing.
    await sleep(1_000)
    assert.equal(await hashOf(), baseline, 'an idle island changed its log or government by itself')

    for (const route of routes) {
      const stat: RouteStats = { route: route.name, requests: 0, byStatus: new Map(), accepted: 0, transient5xx: 0, noAnswer: 0, hashChecks: 0 }
      stats.push(stat)
      const oversized: RawRequest[] = []
      const method = route.name.split(' ')[0] as string
      const path = route.name.split(' ')[1]?.replace(':key', 'fz-big') ?? '/'
      for (const frame of ['length', 'chunked'] as const) {
        for (let index = 0; index < OVERSIZED_PER_FRAMING; index++) {
          oversized.push({ method: method === 'GET' ? 'POST' : method, path: path === 'paths' ? '/kibitz' : path, body: Buffer.alloc(route.limit + 1 + index, 0x61), framing: frame, headers: [['content-type', 'application/json']] })
        }
      }
      const generated = fc.sample(route.arbitrary, { numRuns: REQUESTS_PER_ROUTE, seed: (seed + stats.length) | 0 })
      const all = [...oversized, ...generated]
      for (let start = 0; start < all.length; start += BATCH) {
        const batch = all.slice(start, start + BATCH)
        const answers = await Promise.all(batch.map((request) => rawRequest(port, request, REQUEST_TIMEOUT_MS)))
        let accepted = false
        let peerAccepted = false
        answers.forEach((answer, index) => {
          stat.requests++
          const key = answer.status === null ? `cut:${answer.error ?? 'closed'}` : String(answer.status)
          stat.byStatus.set(key, (stat.byStatus.get(key) ?? 0) + 1)
          if (answer.status === null) {
            stat.noAnswer++
            // No answer in time is not a refusal: the member may have taken it and still be at it.
            if (mayChange(batch[index] as RawRequest)) accepted = true
            if ((batch[index] as RawRequest).path.startsWith('/kibitz')) peerAccepted = true
            return
          }
          if (answer.status >= 500) {
            const code = /"code":"([A-Z_]+)"/.exec(answer.text)?.[1] ?? ''
            if (TRANSIENT_5XX.has(code)) {
              stat.transient5xx++
              return
            }
            const request = batch[index] as RawRequest
            assert.fail(
              `[PAXOS_FAULTS_SEED=${RUN_SEED}] ${route.name}: ${answer.status} for ${request.method} ${request.path} ` +
                `(${request.framing}, ${request.body?.length ?? 0} bytes: ${request.body?.subarray(0, 200).toString('utf8')}): ${answer.text.slice(0, 400)}`,
            )
          }
          if (answer.status < 400 || (answer.status === 404 && answer.text.includes('"KV_NOT_FOUND"'))) {
            stat.accepted++
            const request = batch[index] as RawRequest
            if (mayChange(request)) accepted = true
            if (request.path.startsWith('/kibitz')) peerAccepted = true
          }
        })
        for (const member of cluster.members.values()) {
          assert.ok(member.alive, `[PAXOS_FAULTS_SEED=${RUN_SEED}] ${member.id} exited during ${route.name}\n${member.stderrTail()}`)
        }
        if (accepted) {
          // The kv routes answer once applied here; a peer message may act a little later.
          baseline = peerAccepted ? await settled() : await hashOf()
          continue
        }
        stat.hashChecks++
        const now = await hashOf()
        if (now !== baseline) {
          const described = batch.map((request) => `${request.method} ${request.path} ${request.body?.subarray(0, 300).toString('utf8')}`).join('\n  ')
          assert.fail(`[PAXOS_FAULTS_SEED=${RUN_SEED}] ${route.name}: refused requests changed the log or government:\n  ${described}`)
        }
      }
      console.log(
        `[fuzz] ${route.name}: ${stat.requests} requests; ${[...stat.byStatus].map(([status, count]) => `${status}x${count}`).join(' ')}; ` +
          `accepted ${stat.accepted}; transient 5xx ${stat.transient5xx}; hash checks ${stat.hashChecks}`,
      )
    }
    baseline = await quiet()
    // Replayed peer bodies are accepted (204) but stale: none may change anything.
    let replayed = 0
    for (let start = 0; start < captured.length; start += REPLAY_BATCH) {
      const batch = captured.slice(start, start + REPLAY_BATCH)
      await Promise.all(
        batch.map((body) =>
          rawRequest(port, { method: 'POST', path: '/kibitz', body: Buffer.from(JSON.stringify(body)), headers: [['content-type', 'application/json']] }, REQUEST_TIMEOUT_MS),
        ),
      )
      replayed += batch.length
      await sleep(2 * TIMING.pingMs)
      assert.equal(await hashOf(), baseline, `[PAXOS_FAULTS_SEED=${RUN_SEED}] replayed peer bodies ${start}..${start + batch.length} changed the log or government`)
    }
    console.log(`[fuzz] replayed ${replayed} captured peer bodies: nothing changed`)
    // After all that the island still works.
    const written = await fetch(`${target.url}/kv/after-fuzz`, { method: 'PUT', body: '"ok"', headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(5_000) })
    assert.equal(written.status, 200, 'the island no longer commits after the fuzzing')
    await cluster.waitConverged(10_000)
    const total = stats.reduce((sum, stat) => sum + stat.requests, 0)
    console.log(`[fuzz] total ${total} requests over ${stats.length} routes (PAXOS_FAULTS_SEED=${RUN_SEED}); every member alive; island converged`)
  } finally {
    await cluster.close()
  }
})
