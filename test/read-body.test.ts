// The one body reader: a body within its limit whole, one over it refused
// whether its length was declared or it just kept coming, and drained either
// way so that the refusal can still be answered.

import assert from 'node:assert/strict'
import { createServer, type IncomingMessage } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { PassThrough } from 'node:stream'
import { test } from 'node:test'
import { closeServer } from '../src/colleague/close-server.js'
import { createHandler } from '../src/colleague/http-handler.js'
import { BodiesBusy, BodyAborted, BodyBudget, BodyTooLarge, readBody } from '../src/colleague/read-body.js'
import { Colleague } from '../src/colleague/colleague.js'
import { holdBodies, post, retryUntil } from './support/held-bodies.js'
import { linesAt, recordingLogger, type Line } from './support/logger.js'
import { silentLogger } from '../src/colleague/logger.js'
import { ColleagueError } from '../src/colleague/errors.js'
import { Signer } from '../src/colleague/signature.js'

function request(chunks: readonly string[], headers: Record<string, string> = {}): IncomingMessage & PassThrough {
  const stream = Object.assign(new PassThrough(), { headers }) as unknown as IncomingMessage & PassThrough
  for (const chunk of chunks) stream.write(chunk)
  stream.end()
  return stream
}

test('a body within the limit is read whole', async () => {
  assert.equal((await readBody(request(['ab', 'cd', 'e']), 5)).toString(), 'abcde')
  assert.equal((await readBody(request(['one']), 5)).toString(), 'one')
  assert.equal((await readBody(request([]), 5)).length, 0)
})

// Bounded: a body that is not drained fails the test instead of hanging it.
test('a body over the limit is refused, declared or not, and drained', { timeout: 10_000 }, async () => {
  const declared = request(['abcdef'], { 'content-length': '6' })
  await assert.rejects(readBody(declared, 5), (error: unknown) => error instanceof BodyTooLarge && error.limit === 5)
  const streamed = request(['abc', 'def', 'ghi'])
  await assert.rejects(readBody(streamed, 5), BodyTooLarge)
  for (const drained of [declared, streamed]) {
    if (!drained.readableEnded) await new Promise((resolve) => drained.once('end', resolve))
    assert.equal(drained.readableEnded, true)
  }
})

test('a client that hangs up mid-body: BodyAborted, and the peer routes log no error for it', { timeout: 20_000 }, async () => {
  const broken = Object.assign(new PassThrough(), { headers: {} }) as unknown as IncomingMessage & PassThrough
  broken.write('{"half":')
  const reading = readBody(broken, 100)
  broken.destroy(new Error('aborted'))
  await assert.rejects(reading, BodyAborted)

  const lines: Line[] = []
  let dispatched = 0
  const logger = recordingLogger(lines)
  let aborted!: () => void
  const sawAbort = new Promise<void>((resolve) => (aborted = resolve))
  const handler = createHandler({
    dispatch: async () => {
      dispatched++
      return undefined
    },
    signer: null,
    bodyBytesMax: 1024,
    logger: { ...logger, debug: () => aborted() },
    onRefused: () => {},
  })
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1')
    socket.on('error', () => {})
    socket.write('POST /kibitz HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"half":')
    await new Promise((resolve) => setTimeout(resolve, 50))
    socket.destroy()
    await sawAbort
    assert.deepEqual(linesAt(lines, 'error'), [])
    assert.equal(dispatched, 0)
  } finally {
    await closeServer(server, 1_000)
  }
})

test('a refusal for a state the colleague is in (503) is logged at debug; a failure (500) is a warning with its error', { timeout: 20_000 }, async () => {
  const lines: Line[] = []
  const logger = recordingLogger(lines)
  let failure = new ColleagueError('CRASHED', 'the colleague crashed')
  const server = createServer(
    createHandler({
      dispatch: () => Promise.reject(failure),
      signer: null,
      bodyBytesMax: 1024,
      logger,
      onRefused: () => {},
    }),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const post = async (): Promise<number> => (await fetch(`http://127.0.0.1:${port}/kibitz`, { method: 'POST', body: '{}' })).status
  try {
    for (let n = 0; n < 3; n++) assert.equal(await post(), 503)
    assert.equal(linesAt(lines, 'warn').length, 0)
    assert.equal(linesAt(lines, 'debug').length, 3)
    failure = new ColleagueError('INTERNAL', 'a broken invariant')
    assert.equal(await post(), 500)
    assert.equal(linesAt(lines, 'warn').length, 1)
    assert.equal(linesAt(lines, 'warn')[0]?.fields.err, failure)
  } finally {
    await closeServer(server, 1_000)
  }
})

test('on a signed island an unsigned body is 401 whatever it holds; a signed one is then read as UTF-8 JSON', { timeout: 20_000 }, async () => {
  const signer = new Signer('island secret', { now: () => Date.now() })
  const peer = new Signer('island secret', { now: () => Date.now() })
  const dispatched: unknown[] = []
  const server = createServer(
    createHandler({
      dispatch: async (_type, body) => {
        dispatched.push(body)
        return undefined
      },
      signer,
      bodyBytesMax: 1024,
      logger: silentLogger,
      onRefused: () => {},
    }),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const post = async (body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; code: string | undefined }> => {
    const response = await fetch(`http://127.0.0.1:${port}/kibitz`, { method: 'POST', body, headers })
    const text = await response.text()
    return { status: response.status, code: text === '' ? undefined : (JSON.parse(text) as { error: { code: string } }).error.code }
  }
  try {
    const notUtf8 = Buffer.from([0x7b, 0xff, 0x7d])
    for (const body of [notUtf8, '{nope', '{}']) assert.deepEqual(await post(body), { status: 401, code: 'UNAUTHORIZED' })
    assert.deepEqual(await post('{nope', peer.sign('POST', '/kibitz', '{nope')), { status: 400, code: 'INVALID_JSON' })
    assert.deepEqual(await post('{"a":1}', peer.sign('POST', '/kibitz', '{"a":1}')), { status: 204, code: undefined })
    assert.deepEqual(dispatched, [{ a: 1 }])
  } finally {
    await closeServer(server, 1_000)
  }
})

test('a budget holds the bytes of the bodies being read, refuses the body that would go past it, and gets every byte back', { timeout: 10_000 }, async () => {
  const budget = new BodyBudget(10)
  const open = (): IncomingMessage & PassThrough => Object.assign(new PassThrough(), { headers: {} }) as unknown as IncomingMessage & PassThrough
  const flowed = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
  const first = open()
  first.write('abcdef')
  const reading = readBody(first, 100, budget)
  await flowed()
  assert.equal(budget.held, 6)
  // 6 + 5 > 10: refused, drained, and it holds nothing.
  const second = request(['12', '345'])
  await assert.rejects(readBody(second, 100, budget), (error: unknown) => error instanceof BodiesBusy && error.limit === 10)
  assert.equal(budget.held, 6)
  first.end('gh')
  assert.equal((await reading).toString(), 'abcdefgh')
  assert.equal(budget.held, 0, 'a whole body gives its bytes back')
  const aborted = open()
  aborted.write('abc')
  const abortedReading = readBody(aborted, 100, budget)
  await flowed()
  assert.equal(budget.held, 3)
  aborted.destroy(new Error('aborted'))
  await assert.rejects(abortedReading, BodyAborted)
  assert.equal(budget.held, 0, 'so does a body whose client hung up')
  const tooLarge = open()
  tooLarge.write('abcd')
  const tooLargeReading = readBody(tooLarge, 5, budget)
  await flowed()
  tooLarge.end('efgh')
  await assert.rejects(tooLargeReading, BodyTooLarge)
  assert.equal(budget.held, 0, 'and one over its own bound')
  assert.equal((await readBody(request(['0123456789']), 100, budget)).length, 10)
  assert.equal(budget.held, 0)
})

test('a colleague holds at most bodiesBytesMax of bodies at once: past it 503 BODIES_BUSY with retry-after, and once those bodies go, requests are read again', { timeout: 30_000 }, async () => {
  assert.throws(
    () => new Colleague({ islandName: 'bodies', application: { entry: () => {} }, bodyBytesMax: 4096, bodiesBytesMax: 4095 }),
    (error: unknown) => error instanceof ColleagueError && error.code === 'INVALID_OPTIONS' && /bodiesBytesMax/.test(error.message),
  )
  const colleague = new Colleague({ islandName: 'bodies', application: { entry: () => {} }, bodyBytesMax: 1024, bodiesBytesMax: 2048 })
  const { url } = await colleague.listen()
  const sockets = await holdBodies(url, '/kibitz', 2, 1000, 1024)
  try {
    // Two bodies hold 2,000 bytes; a third whole body of 1,024 would go past 2,048, whenever the two are in.
    const busy = await retryUntil(() => post(url, '/kibitz', 'x'.repeat(1024)), (answer) => answer.status === 503, 10_000)
    assert.equal(busy.body.error.code, 'BODIES_BUSY')
    assert.equal(busy.retryAfter, '1')
    assert.match(busy.body.error.message, /2048 bytes/)
  } finally {
    for (const socket of sockets) socket.destroy()
  }
  // Their bytes come back with the connections: the same body is read, and refused only for what it is.
  const read = await retryUntil(() => post(url, '/kibitz', 'x'.repeat(1024)), (answer) => answer.status !== 503, 10_000)
  assert.equal(read.body.error.code, 'INVALID_JSON')
  await colleague.shutdown()
})

test('on a signed island a body whose head is not signed is refused before it is read: unfinished bodies from outside hold none of the budget', { timeout: 30_000 }, async () => {
  const secret = 'island secret'
  const colleague = new Colleague({ islandName: 'bodies', application: { entry: () => {} }, secret, bodyBytesMax: 1024, bodiesBytesMax: 2048 })
  const { url } = await colleague.listen()
  // Two unfinished bodies of 1,023 bytes would hold 2,046 of the 2,048 bytes, so that a member's body would not fit.
  const sockets = await holdBodies(url, '/kibitz', 2, 1023, 1024)
  try {
    const answers = await Promise.all(sockets.map((socket) => answerBeforeClose(socket, 10_000)))
    for (const answer of answers) assert.match(answer, /^HTTP\/1\.1 401 [^]*"code":"UNAUTHORIZED"/, 'answered 401 with the body unfinished, and the connection closed')
    // A member's signed request is still read whole, and acted on: POST /bootstrap founds the island.
    const peer = new Signer(secret, { now: () => Date.now() })
    const body = JSON.stringify({ islandName: 'bodies', to: colleague.colleagueId })
    const response = await fetch(`${url}/bootstrap`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...peer.sign('POST', '/bootstrap', body) } })
    assert.equal(response.status, 200, await response.text())
  } finally {
    for (const socket of sockets) socket.destroy()
    await colleague.shutdown()
  }
})

/** What the server sent on `socket` until it closed it; fails past `withinMs`. */
function answerBeforeClose(socket: import('node:net').Socket, withinMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => reject(new Error(`no answer and close within ${withinMs} ms; got ${JSON.stringify(text)}`)), withinMs)
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (text += chunk))
    socket.once('close', () => {
      clearTimeout(timer)
      resolve(text)
    })
  })
}
