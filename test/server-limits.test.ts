// A connection that sends nothing, or stops in the middle of a body, is
// closed once it has been silent for the idle bound; one that keeps talking
// is not cut by it. What node:http cannot read gets a JSON error; a client
// that half-closes after its request still gets the answer; pipelined
// requests are handled one at a time.

import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { test } from 'node:test'
import { createKvServer, type KvServer } from '../src/cli/kv-server.js'
import { KvStore } from '../src/cli/kv-store.js'
import { closeServer } from '../src/colleague/close-server.js'
import { Colleague } from '../src/index.js'
import { CONNECTIONS_CHECKING_INTERVAL_MS, IDLE_SOCKET_MS, limitServer, REQUEST_TIMEOUT_MS } from '../src/colleague/server-limits.js'

const IDLE_MS = 1_000
/** Far above the bound, for a busy machine; a connection never closed fails at it instead of hanging. */
const WAIT_MS = 20_000

async function listening(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

/** Milliseconds until the server closes `socket`, or null when it is still open after WAIT_MS. */
function closedAfter(socket: Socket, since: number): Promise<number | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), WAIT_MS)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve(performance.now() - since)
    })
    socket.on('error', () => {})
  })
}

test('a silent connection and one stalled mid-body are closed after the idle bound', { timeout: 60_000 }, async () => {
  let bodies = 0
  const server = limitServer(
    createServer({ connectionsCheckingInterval: 50 }, (request, response) => {
      request.on('data', () => {})
      request.on('end', () => {
        bodies++
        response.end('ok')
      })
    }),
    { idleSocketMs: IDLE_MS, requestTimeoutMs: 60_000 },
  )
  const port = await listening(server)
  try {
    const started = performance.now()
    const silent = connect(port, '127.0.0.1')
    const stalled = connect(port, '127.0.0.1')
    stalled.write('POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n' + 'y'.repeat(500))
    const closes = Promise.all([closedAfter(silent, started), closedAfter(stalled, started)])
    // A client that keeps sending, more slowly than the bound in total but never silent for it.
    const talking = connect(port, '127.0.0.1')
    talking.on('error', () => {})
    let talkingClosed = false
    talking.once('close', () => (talkingClosed = true))
    talking.write('POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: 15\r\n\r\n')
    for (let index = 0; index < 15; index++) {
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS / 10))
      talking.write('z')
    }
    const [silentMs, stalledMs] = await closes
    for (const deadline = performance.now() + WAIT_MS; bodies === 0 && performance.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.ok(silentMs !== null && silentMs >= IDLE_MS * 0.9, `the silent connection closed after ${silentMs} ms`)
    assert.ok(stalledMs !== null && stalledMs >= IDLE_MS * 0.9, `the stalled body's connection closed after ${stalledMs} ms`)
    assert.equal(talkingClosed, false, 'a connection that keeps sending is not idle')
    assert.equal(bodies, 1, 'its request completed')
    talking.destroy()
  } finally {
    await closeServer(server, 1_000)
  }
})

test('the CLI\'s server and the defaults bound requests, headers and idle connections', () => {
  const kv = createKvServer({ store: new KvStore(), enqueue: async () => ({ position: 0 }), barrier: async () => undefined })
  assert.equal(kv.server.requestTimeout, REQUEST_TIMEOUT_MS)
  assert.ok(kv.server.headersTimeout <= REQUEST_TIMEOUT_MS)
  assert.equal(kv.server.timeout, IDLE_SOCKET_MS)
  assert.ok(IDLE_SOCKET_MS > 0 && CONNECTIONS_CHECKING_INTERVAL_MS < REQUEST_TIMEOUT_MS)
})

/**
 * What the server answers to `raw` on a fresh connection, whole, once the
 * server has closed the connection; bounded. The client never closes its own
 * side and keeps sending after the answer, as a slow-loris client would: only
 * a server that closes the connection for good ends it.
 */
function answerTo(port: number, raw: string): Promise<{ status: number; headers: string; body: any }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
    let text = ''
    let dribble: NodeJS.Timeout | undefined
    const timer = setTimeout(() => {
      clearInterval(dribble)
      socket.destroy()
      reject(new Error(`the connection after ${JSON.stringify(raw.slice(0, 40))} still open after ${WAIT_MS} ms; answer so far ${JSON.stringify(text.slice(0, 200))}`))
    }, WAIT_MS)
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (text += chunk))
    socket.on('error', () => {})
    socket.once('end', () => {
      dribble = setInterval(() => socket.write('x'), 20)
    })
    socket.once('close', () => {
      clearInterval(dribble)
      clearTimeout(timer)
      const [head = '', body = ''] = text.split('\r\n\r\n')
      try {
        resolve({ status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body: JSON.parse(body) })
      } catch (error) {
        reject(new Error(`answer ${JSON.stringify(text)}: ${String(error)}`))
      }
    })
    socket.write(raw)
  })
}

test('what node:http cannot read as a request gets a JSON error with its code, and the connection closes', { timeout: 60_000 }, async () => {
  let handled = 0
  const server = limitServer(
    createServer({ connectionsCheckingInterval: 50 }, (_request, response) => {
      handled++
      response.end('ok')
    }),
    { requestTimeoutMs: 500 },
  )
  const port = await listening(server)
  try {
    for (const raw of ['GARBAGE\r\n\r\n', 'GET / HTTP/1.1\r\nhost x\r\n\r\n', 'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: nine\r\n\r\n']) {
      const malformed = await answerTo(port, raw)
      assert.equal(malformed.status, 400, raw)
      assert.equal(malformed.body.error.code, 'MALFORMED_REQUEST', raw)
      assert.match(malformed.body.error.message, /\(HPE_[A-Z_]+\)/)
      assert.match(malformed.headers, /content-type: application\/json/)
      assert.match(malformed.headers, /connection: close/)
    }
    const oversized = await answerTo(port, `GET / HTTP/1.1\r\nhost: x\r\nx-long: ${'a'.repeat(20_000)}\r\n\r\n`)
    assert.equal(oversized.status, 431)
    assert.equal(oversized.body.error.code, 'HEADERS_TOO_LARGE')
    // Headers that never end: refused once the request bound passes.
    const late = await answerTo(port, 'GET / HTTP/1.1\r\nhost: x\r\n')
    assert.equal(late.status, 408)
    assert.equal(late.body.error.code, 'REQUEST_TIMEOUT')
    assert.equal(handled, 0, 'none of them reached the handler')
    // A well-formed request is served as before.
    const served = await fetch(`http://127.0.0.1:${port}/`)
    assert.equal(await served.text(), 'ok')
  } finally {
    await closeServer(server, 1_000)
  }
})

/** The CLI's server over a store whose writes only count: how many reached it. */
async function countingKvServer(): Promise<{ kv: KvServer; port: number; enqueued: () => number }> {
  let enqueued = 0
  const kv = createKvServer({
    store: new KvStore(),
    enqueue: async () => ({ position: ++enqueued }),
    barrier: async () => undefined,
  })
  const { port } = await kv.listen('127.0.0.1', 0)
  return { kv, port, enqueued: () => enqueued }
}

test("the CLI's server answers an Expect header other than 100-continue with a JSON 417, closes the connection, and writes nothing", { timeout: 60_000 }, async () => {
  const { kv, port, enqueued } = await countingKvServer()
  try {
    const refused = await answerTo(port, 'PUT /kv/e1 HTTP/1.1\r\nhost: x\r\nexpect: bogus\r\ncontent-length: 1\r\n\r\nx')
    assert.equal(refused.status, 417)
    assert.equal(refused.body.error.code, 'EXPECTATION_FAILED')
    assert.match(refused.headers, /content-type: application\/json/)
    assert.equal(enqueued(), 0)
  } finally {
    await kv.close(1_000)
  }
})

test('an HTTP/1.1 request without a Host header gets the JSON 400 on both servers, and writes nothing; HTTP/1.0 needs none', { timeout: 60_000 }, async () => {
  const { kv, port, enqueued } = await countingKvServer()
  const colleague = new Colleague({ islandName: 'no-host', host: '127.0.0.1', port: 0, application: { entry: () => {} } })
  const { url } = await colleague.listen()
  try {
    const refused = await answerTo(port, 'PUT /kv/h1 HTTP/1.1\r\ncontent-length: 1\r\n\r\nx')
    assert.equal(refused.status, 400)
    assert.equal(refused.body.error.code, 'MALFORMED_REQUEST')
    assert.match(refused.body.error.message, /Host header/)
    assert.match(refused.headers, /content-type: application\/json/)
    assert.equal(enqueued(), 0)
    const peer = await answerTo(Number(new URL(url).port), 'GET /health HTTP/1.1\r\n\r\n')
    assert.equal(peer.status, 400)
    assert.equal(peer.body.error.code, 'MALFORMED_REQUEST')
    const old = await allAnswers(port, 'PUT /kv/h2 HTTP/1.0\r\ncontent-length: 1\r\n\r\nx')
    assert.match(old, /^HTTP\/1\.1 200 /)
    assert.equal(enqueued(), 1)
  } finally {
    await kv.close(1_000)
    await colleague.shutdown()
  }
})

/** What the server answers to `raw` sent by a client that half-closes at once (its FIN follows the request); bounded. */
async function halfClosedAnswer(port: number, raw: string): Promise<{ status: number; body: any } | null> {
  const text = await allAnswers(port, raw)
  if (text === '') return null
  const [head = '', body = ''] = text.split('\r\n\r\n')
  try {
    return { status: Number(head.split(' ')[1]), body: JSON.parse(body) }
  } catch (error) {
    throw new Error(`answer ${JSON.stringify(text)}: ${String(error)}`)
  }
}

/** The CLI's server on a store whose writes and barriers take a while to apply, as a round of consensus does. */
async function slowKvServer(): Promise<{ kv: KvServer; store: KvStore; port: number; enqueued: () => number }> {
  let enqueued = 0
  const store = new KvStore()
  const later = <T>(value: () => T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value()), 200))
  const kv = createKvServer({
    store,
    enqueue: (operation) =>
      later(() => {
        const position = ++enqueued
        store.entry({ position, value: operation })
        return { position }
      }),
    barrier: () => later(() => undefined),
  })
  const { port } = await kv.listen('127.0.0.1', 0)
  return { kv, store, port, enqueued: () => enqueued }
}

/** Everything the server sends on one connection after `raw`, until it closes the connection (the client half-closes); bounded. */
function allAnswers(port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (text += chunk))
    socket.on('error', () => {})
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no end of the connection after ${WAIT_MS} ms; answers so far ${JSON.stringify(text.slice(0, 200))}`))
    }, WAIT_MS)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve(text)
    })
    socket.end(raw)
  })
}

test('a client that half-closes once its request is sent gets its answer, however long the write takes', { timeout: 60_000 }, async () => {
  const { kv, store, port, enqueued } = await slowKvServer()
  try {
    const put = await halfClosedAnswer(port, 'PUT /kv/a HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: 3\r\n\r\nabc')
    assert.deepEqual(put, { status: 200, body: { key: 'a', value: 'abc', position: 1 } })
    const read = await halfClosedAnswer(port, 'GET /kv/a?consistent=1 HTTP/1.1\r\nhost: x\r\n\r\n')
    assert.deepEqual(read, { status: 200, body: { key: 'a', value: 'abc', position: 1 } })
    // Two requests, then the half-close: both are answered, in order.
    const two = await allAnswers(
      port,
      'PUT /kv/b HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: 1\r\n\r\nB' +
        'PUT /kv/c HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: 1\r\n\r\nC',
    )
    assert.deepEqual(
      [...two.matchAll(/\{"key":"(\w)","value":"(\w)","position":(\d+)\}/g)].map((match) => match.slice(1).join('')),
      ['bB2', 'cC3'],
      two,
    )
    // A body cut short by the half-close is no request: nothing is written.
    const cut = await halfClosedAnswer(port, 'PUT /kv/d HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: 10\r\n\r\nabc')
    assert.equal(cut?.status, 400)
    assert.equal(cut?.body.error.code, 'MALFORMED_REQUEST')
    assert.equal(enqueued(), 3)
    assert.equal(store.get('d'), undefined)
  } finally {
    await kv.close(1_000)
  }
})

test('pipelined requests are handled one at a time, in order: a read or delete behind a write sees it', { timeout: 60_000 }, async () => {
  const { kv, store, port } = await slowKvServer()
  const request = (method: string, key: string, body?: string): string =>
    `${method} /kv/${key} HTTP/1.1\r\nhost: x\r\n` + (body === undefined ? '\r\n' : `content-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n${body}`)
  try {
    const text = await allAnswers(port, request('PUT', 'p', 'one') + request('GET', 'p') + request('DELETE', 'p') + request('GET', 'p') + request('PUT', 'p', 'two'))
    const answers = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]))
    assert.deepEqual(answers, [200, 200, 200, 404, 200], text)
    assert.match(text, /\{"key":"p","value":"one","position":1\}[^]*\{"key":"p","value":"one","position":1\}[^]*\{"key":"p","position":2\}/)
    assert.deepEqual(store.get('p'), { value: 'two', position: 3 })
  } finally {
    await kv.close(1_000)
  }
})
