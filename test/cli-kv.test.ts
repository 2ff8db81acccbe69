// The kv application's routes against a stand-in log: one process, no colleague.

import { strict as assert } from 'node:assert'
import { after, before, test } from 'node:test'
import { Agent, request as httpRequest } from 'node:http'
import { callJson } from '../src/cli/http-client.js'
import { createKvServer, type KvServer } from '../src/cli/kv-server.js'
import { KvStore, type KvOperation } from '../src/cli/kv-store.js'
import { holdBodies, post, retryUntil } from './support/held-bodies.js'

const store = new KvStore()
const enqueued: KvOperation[] = []
let failWith: Error | null = null
let server: KvServer
let url: string

/** A log of one: each operation is committed and applied at the next position. */
async function enqueue(operation: KvOperation): Promise<{ position: number }> {
  if (failWith !== null) throw failWith
  const position = enqueued.length
  enqueued.push(operation)
  store.entry({ position, value: operation })
  return { position }
}

before(async () => {
  // The barrier of this stand-in log is an entry of its own, so that tests can see it.
  const barrier = (): Promise<unknown> => enqueue({ kv: 'barrier' })
  server = createKvServer({ store, enqueue, barrier, bodyBytesMax: 1024 })
  ;({ url } = await server.listen('127.0.0.1', 0))
})

after(async () => {
  await server.close(1_000)
})

/** One request with `path` sent as written (fetch would resolve its dot segments first). */
function call(method: string, path: string, body?: string | Buffer, type?: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method, path, headers: type === undefined ? {} : { 'content-type': type }, timeout: 5_000 }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (text += chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }))
      response.on('error', reject)
    })
    request.on('timeout', () => request.destroy(new Error(`${method} ${path} timed out`)))
    request.on('error', reject)
    request.end(body)
  })
}

test('PUT a JSON value, GET it back with the position of its write', async () => {
  const put = await call('PUT', '/kv/alpha', JSON.stringify({ n: 1 }), 'application/json')
  assert.equal(put.status, 200)
  assert.deepEqual(put.body, { key: 'alpha', value: { n: 1 }, position: put.body.position })
  const get = await call('GET', '/kv/alpha')
  assert.deepEqual(get.body, { key: 'alpha', value: { n: 1 }, position: put.body.position })
})

test('PUT a text value keeps it as a string', async () => {
  const put = await call('PUT', '/kv/beta', 'hello', 'text/plain')
  assert.equal(put.status, 200)
  assert.equal(put.body.value, 'hello')
  assert.equal((await call('GET', '/kv/beta')).body.value, 'hello')
})

test('DELETE removes a key; GET then answers 404', async () => {
  await call('PUT', '/kv/gamma', '1', 'application/json')
  const deleted = await call('DELETE', '/kv/gamma')
  assert.equal(deleted.status, 200)
  assert.equal(deleted.body.key, 'gamma')
  const missing = await call('GET', '/kv/gamma')
  assert.equal(missing.status, 404)
  assert.equal(missing.body.error.code, 'KV_NOT_FOUND')
})

test('DELETE of an absent key answers 404 KV_NOT_FOUND and writes nothing to the log', async () => {
  const before = enqueued.length
  const missing = await call('DELETE', '/kv/never-written')
  assert.equal(missing.status, 404)
  assert.equal(missing.body.error.code, 'KV_NOT_FOUND')
  assert.equal(enqueued.length, before)
  // With consistent=1 it looks again after a barrier, and still writes no delete.
  const checked = await call('DELETE', '/kv/never-written?consistent=1')
  assert.equal(checked.status, 404)
  assert.deepEqual(enqueued.slice(before), [{ kv: 'barrier' }])
})

test('GET /kv?prefix= lists only the keys that start with it', async () => {
  for (const key of ['user:1', 'user:2', 'users', 'group:1']) await call('PUT', `/kv/${key}`, '1', 'application/json')
  const users = await call('GET', '/kv?prefix=user:')
  assert.equal(users.status, 200)
  assert.deepEqual(users.body.entries.map((entry: { key: string }) => entry.key), ['user:1', 'user:2'])
  assert.equal(users.body.count, 2)
  const none = await call('GET', '/kv?prefix=nothing-here')
  assert.deepEqual([none.body.count, none.body.entries], [0, []])
  const every = await call('GET', '/kv?prefix=')
  assert.equal(every.body.count, (await call('GET', '/kv')).body.count)
})

test('GET /kv lists every key sorted, with the applied position', async () => {
  await call('PUT', '/kv/zeta', '"z"', 'application/json')
  const all = await call('GET', '/kv')
  assert.equal(all.status, 200)
  assert.equal(all.body.position, store.position)
  const keys = all.body.entries.map((entry: { key: string }) => entry.key)
  assert.deepEqual(keys, [...keys].sort())
  assert.ok(keys.includes('alpha') && keys.includes('zeta') && !keys.includes('gamma'))
  assert.equal(all.body.count, keys.length)
})

test('a consistent read goes through a barrier in the log first', async () => {
  const before = enqueued.length
  const read = await call('GET', '/kv/alpha?consistent=1')
  assert.equal(read.status, 200)
  assert.deepEqual(enqueued.slice(before), [{ kv: 'barrier' }])
  await call('GET', '/kv?consistent=1')
  assert.equal(enqueued.length, before + 2)
  await call('GET', '/kv/alpha')
  assert.equal(enqueued.length, before + 2, 'a plain read enqueues nothing')
})

test('a target in absolute form, as a client sends through a proxy, names the same key and route', async () => {
  const put = await call('PUT', `${url}/kv/absolute`, '"a"', 'application/json')
  assert.equal(put.status, 200)
  assert.deepEqual((await call('GET', '/kv/absolute')).body.value, 'a')
  const listed = await call('GET', `${url.replace('http://', 'HTTP://')}/kv?prefix=abs`)
  assert.deepEqual(listed.body.entries.map((entry: { key: string }) => entry.key), ['absolute'])
  // Dot segments stay as sent in this form too.
  assert.equal((await call('PUT', `${url}/kv/../health`, 'x', 'text/plain')).body.error.code, 'KV_BAD_KEY')
  // Not a kv path, and no colleague mounted yet.
  assert.equal((await call('GET', `${url}/health`)).status, 503)
})

test('bad input answers 4xx JSON and changes nothing', async () => {
  const before = enqueued.length
  const cases: Array<[string, string, string | Buffer | undefined, string | undefined, number, string]> = [
    ['PUT', '/kv/has%20space', 'x', 'text/plain', 400, 'KV_BAD_KEY'],
    ['PUT', '/kv/%E0%A4%A', 'x', 'text/plain', 400, 'KV_BAD_KEY'],
    ['PUT', `/kv/${'k'.repeat(257)}`, 'x', 'text/plain', 400, 'KV_BAD_KEY'],
    ['PUT', '/kv/a%2Fb', 'x', 'text/plain', 400, 'KV_BAD_KEY'],
    ['PUT', '/kv/', 'x', 'text/plain', 400, 'KV_BAD_KEY'],
    // The path as sent: dot segments are not resolved into another key (or out of /kv).
    ['PUT', '/kv/../health', 'x', 'text/plain', 400, 'KV_BAD_KEY'],
    ['PUT', '/kv/x/../alpha', 'x', 'text/plain', 400, 'KV_BAD_KEY'],
    ['DELETE', '/kv/./alpha', undefined, undefined, 400, 'KV_BAD_KEY'],
    ['PUT', '/kv/..', 'x', 'text/plain', 400, 'KV_BAD_KEY'],
    ['PUT', '/kv/%2e', 'x', 'text/plain', 400, 'KV_BAD_KEY'],
    ['PUT', '/kv/json', '{nope', 'application/json', 400, 'KV_BAD_JSON'],
    ['PUT', '/kv/json', '', 'application/json; charset=utf-8', 400, 'KV_BAD_JSON'],
    // Bytes that are not UTF-8 are refused, not stored with U+FFFD in their place.
    ['PUT', '/kv/json', Buffer.from([0x22, 0xff, 0x22]), 'application/json', 400, 'KV_BAD_JSON'],
    ['PUT', '/kv/text', Buffer.from([0xff, 0xfe, 0x41]), 'text/plain', 400, 'KV_BAD_TEXT'],
    ['PUT', '/kv/text', Buffer.from([0x61, 0xc3]), undefined, 400, 'KV_BAD_TEXT'],
    ['PUT', '/kv/big', 'x'.repeat(1025), 'text/plain', 413, 'KV_BODY_TOO_LARGE'],
    ['GET', '/kv/alpha?consistent=maybe', undefined, undefined, 400, 'KV_BAD_QUERY'],
    ['GET', '/kv?prefix=a%20b', undefined, undefined, 400, 'KV_BAD_QUERY'],
    ['GET', '/kv?prefx=a', undefined, undefined, 400, 'KV_BAD_QUERY'],
    ['GET', '/kv/alpha?prefix=a', undefined, undefined, 400, 'KV_BAD_QUERY'],
    // A parameter given twice, even with a value that is good alone: one of the two would be ignored.
    ['GET', '/kv?consistent=1&consistent=bogus', undefined, undefined, 400, 'KV_BAD_QUERY'],
    ['GET', '/kv/alpha?consistent=1&consistent=1', undefined, undefined, 400, 'KV_BAD_QUERY'],
    ['DELETE', '/kv/alpha?consistent=0&consistent', undefined, undefined, 400, 'KV_BAD_QUERY'],
    ['GET', '/kv?prefix=a&prefix=%2F%2F', undefined, undefined, 400, 'KV_BAD_QUERY'],
    ['GET', '/kv?prefix=a&consistent=1&prefix=a', undefined, undefined, 400, 'KV_BAD_QUERY'],
    ['POST', '/kv/alpha', 'x', 'text/plain', 405, 'KV_METHOD_NOT_ALLOWED'],
    ['DELETE', '/kv', undefined, undefined, 405, 'KV_METHOD_NOT_ALLOWED'],
  ]
  const consistent = await call('GET', '/kv/alpha?consistent=maybe')
  assert.equal(consistent.body.error.message, 'consistent must be 1, true, 0 or false (empty means 1), got "maybe"')
  const twice = await call('GET', '/kv?prefix=a&prefix=b')
  assert.equal(twice.body.error.message, 'query parameter "prefix" is given more than once')
  const bytes = await call('PUT', '/kv/text', Buffer.from([0xff]), 'text/plain')
  assert.deepEqual(bytes.body.error, { code: 'KV_BAD_TEXT', message: 'body is not UTF-8' })
  for (const [method, path, body, type, status, code] of cases) {
    const answer = await call(method, path, body, type)
    assert.equal(answer.status, status, `${method} ${path}`)
    assert.equal(answer.body.error.code, code, `${method} ${path}`)
    assert.equal(typeof answer.body.error.message, 'string')
  }
  assert.equal(enqueued.length, before)
})

test('HEAD is GET without the body, on a key and on the whole store', async () => {
  await call('PUT', '/kv/headed', '"here"', 'application/json')
  const head = (path: string): Promise<{ status: number; length: string | undefined; text: string }> =>
    new Promise((resolve, reject) => {
      const request = httpRequest(url, { method: 'HEAD', path, timeout: 5_000 }, (response) => {
        let text = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => (text += chunk))
        response.on('end', () => resolve({ status: response.statusCode ?? 0, length: response.headers['content-length'], text }))
      })
      request.on('timeout', () => request.destroy(new Error(`HEAD ${path} timed out`)))
      request.on('error', reject)
      request.end()
    })
  for (const path of ['/kv/headed', '/kv']) {
    const [answer, got] = [await head(path), await call('GET', path)]
    assert.equal(answer.status, 200, path)
    assert.equal(answer.text, '', path)
    assert.equal(Number(answer.length), Buffer.byteLength(JSON.stringify(got.body)), `${path}: the length GET would send`)
  }
  assert.equal((await head('/kv/nowhere')).status, 404)
})

test('a colleague error keeps its code and answers 503', async () => {
  failWith = Object.assign(new Error('no quorum'), { code: 'NO_QUORUM' })
  try {
    const answer = await call('PUT', '/kv/delta', 'x', 'text/plain')
    assert.equal(answer.status, 503)
    assert.deepEqual(answer.body, { error: { code: 'NO_QUORUM', message: 'no quorum' } })
  } finally {
    failWith = null
  }
})

test('until the store holds its island\'s state, every kv route answers 503 KV_UNAVAILABLE and writes nothing', async () => {
  let available = false
  const joining = createKvServer({ store, enqueue, barrier: () => enqueue({ kv: 'barrier' }), available: () => available })
  const { url: joiningUrl } = await joining.listen('127.0.0.1', 0)
  try {
    await call('PUT', '/kv/held', 'known elsewhere', 'text/plain')
    const logged = enqueued.length
    for (const [method, path] of [['GET', '/kv/held'], ['GET', '/kv'], ['GET', '/kv/held?consistent=1'], ['PUT', '/kv/held'], ['DELETE', '/kv/held']] as const) {
      const answer = await callJson(`${joiningUrl}${path}`, { method, ...(method === 'PUT' && { body: 'x' }), timeoutMs: 5_000 })
      assert.equal(answer.status, 503, `${method} ${path}`)
      assert.equal((answer.body as { error: { code: string } }).error.code, 'KV_UNAVAILABLE', `${method} ${path}`)
    }
    assert.equal(enqueued.length, logged, 'nothing was written')
    available = true
    assert.deepEqual((await callJson(`${joiningUrl}/kv/held`, { timeoutMs: 5_000 })).status, 200)
  } finally {
    await joining.close(1_000)
  }
})

test('other paths go to the colleague once mounted, 503 before', async () => {
  const early = await callJson(`${url}/health`, { timeoutMs: 5_000 })
  assert.equal(early.status, 503)
  server.mountColleague((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' })
    response.end('{"colleague":true}')
  })
  const mounted = await callJson(`${url}/health`, { timeoutMs: 5_000 })
  assert.deepEqual(mounted, { status: 200, body: { colleague: true } })
})

test('snapshot and restore carry the map and its position', () => {
  const copy = new KvStore()
  copy.restore(JSON.parse(JSON.stringify(store.snapshot())))
  assert.deepEqual(copy.entries(), store.entries())
  assert.equal(copy.position, store.position)
  assert.throws(() => copy.restore({ position: 1, pairs: [['k']] }), TypeError)
  assert.throws(() => copy.restore(null), TypeError)
  assert.deepEqual(copy.entries(), store.entries(), 'a refused snapshot changes nothing')
})

test('entries that are not kv operations advance the position only', () => {
  const fresh = new KvStore()
  fresh.entry({ position: 0, value: { something: 'else' } })
  fresh.entry({ position: 1, value: { kv: 'put', key: 'a', value: null } })
  fresh.entry({ position: 2, value: { kv: 'put', key: 7, value: 1 } })
  assert.equal(fresh.position, 2)
  assert.deepEqual(fresh.entries(), [['a', { value: null, position: 1 }]])
})

test('close() ends a keep-alive connection as soon as the request under way on it is answered, not at its timeout', async () => {
  let commit: (() => void) | null = null
  const slow = createKvServer({
    store: new KvStore(),
    enqueue: () => new Promise((resolve) => (commit = () => resolve({ position: 0 }))),
    barrier: () => Promise.resolve(),
  })
  const { url: slowUrl } = await slow.listen('127.0.0.1', 0)
  const agent = new Agent({ keepAlive: true })
  try {
    const answered = new Promise<number>((resolve, reject) => {
      const request = httpRequest(`${slowUrl}/kv/k`, { method: 'PUT', agent, headers: { 'content-type': 'text/plain' } }, (response) => {
        response.resume()
        response.on('end', () => resolve(response.statusCode ?? 0))
      })
      request.on('error', reject)
      request.end('v')
    })
    await waitUntil(() => commit !== null)
    const started = Date.now()
    const closed = slow.close(10_000)
    ;(commit as unknown as () => void)()
    assert.equal(await answered, 200, 'the write under way is answered')
    await closed
    const closeMs = Date.now() - started
    // Left to itself the connection would close at the server's keep-alive timeout (5 s).
    assert.ok(closeMs < 2_000, `close() took ${closeMs} ms`)
  } finally {
    agent.destroy()
    await slow.close(1_000)
  }
})

/** Waits for `check`, turning the event loop, for at most five seconds. */
async function waitUntil(check: () => boolean): Promise<void> {
  for (let waited = 0; !check(); waited += 5) {
    if (waited > 5_000) throw new Error('timed out waiting')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

test('the kv routes hold at most bodiesBytesMax of bodies at once: past it a write answers 503 KV_BUSY with retry-after and writes nothing', { timeout: 30_000 }, async () => {
  const busyStore = new KvStore()
  const writes: KvOperation[] = []
  const busy = createKvServer({
    store: busyStore,
    enqueue: async (operation) => {
      writes.push(operation)
      busyStore.entry({ position: writes.length - 1, value: operation })
      return { position: writes.length - 1 }
    },
    barrier: async () => ({}),
    bodyBytesMax: 1024,
    bodiesBytesMax: 2048,
  })
  const { url: busyUrl } = await busy.listen('127.0.0.1', 0)
  try {
    const sockets = await holdBodies(busyUrl, '/kv/held', 2, 1000, 1024, 'PUT')
    try {
      const refused = await retryUntil(() => post(busyUrl, '/kv/third', 'z'.repeat(1024), 'PUT'), (answer) => answer.status === 503, 10_000)
      assert.equal(refused.body.error.code, 'KV_BUSY')
      assert.equal(refused.retryAfter, '1')
      assert.deepEqual(writes.filter((write) => write.kv === 'put' && write.key === 'third').length, writes.length, 'only the third key was ever written')
      assert.equal(busyStore.get('held'), undefined)
    } finally {
      for (const socket of sockets) socket.destroy()
    }
    const written = await retryUntil(() => post(busyUrl, '/kv/third', 'z'.repeat(1024), 'PUT'), (answer) => answer.status !== 503, 10_000)
    assert.equal(written.status, 200)
    assert.equal(busyStore.get('third')?.value, 'z'.repeat(1024))
  } finally {
    await busy.close(1_000)
  }
})
