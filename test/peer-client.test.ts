// PeerClient over real loopback HTTP, on both of its paths: the hot one
// (`overall` false: undici's dispatch with its own handler) and the bounded
// one (`overall` true: a request with an abort signal). Each must hand back
// the status and the whole body, and reject when the peer cannot be reached
// or does not answer in time.

import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { AnswerTooLarge, PeerClient } from '../src/colleague/peer-client.js'
import { Signer } from '../src/colleague/signature.js'

/** A bound on every wait here: a failing client fails the test instead of hanging it. */
const BOUND_MS = 20_000

async function serve(handler: (request: IncomingMessage, body: string, response: ServerResponse) => void): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => handler(request, Buffer.concat(chunks).toString('utf8'), response))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

function close(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}

for (const overall of [false, true]) {
  const path = overall ? 'bounded path' : 'hot path'

  test(`${path}: an answer that is not UTF-8 fails the request, not decoded with U+FFFD in its place`, { timeout: BOUND_MS }, async () => {
    const { url, server } = await serve((_request, _body, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]))
    })
    const client = new PeerClient({ signer: null })
    try {
      await assert.rejects(client.post(url, '/oob', '{}', BOUND_MS / 2, overall), /is not UTF-8/)
    } finally {
      await client.close()
      await close(server)
    }
  })

  test(`${path}: the answer's status and whole body come back, however the peer writes it`, { timeout: BOUND_MS }, async () => {
    const seen: { route: string | undefined; body: string; type: string | undefined }[] = []
    const answer = `{"messages":[${Array.from({ length: 2000 }, (_, index) => `{"n":${index},"text":"é${'x'.repeat(40)}"}`).join(',')}]}`
    const { url, server } = await serve((request, body, response) => {
      seen.push({ route: request.url, body, type: request.headers['content-type'] })
      if (body === '{"refuse":true}') {
        response.writeHead(409, { 'content-type': 'application/json' })
        response.end('{"error":{"code":"STALE"}}')
        return
      }
      // Chunked, in pieces that split a multi-byte character between writes.
      const bytes = Buffer.from(answer, 'utf8')
      response.writeHead(200, { 'content-type': 'application/json' })
      let at = 0
      const step = 4093
      const next = (): void => {
        if (at >= bytes.length) return void response.end()
        response.write(bytes.subarray(at, at + step))
        at += step
        setImmediate(next)
      }
      next()
    })
    const client = new PeerClient({ signer: null })
    try {
      const ok = await client.post(`${url}/base/`, '/kibitz', '{"a":1}', BOUND_MS / 2, overall)
      assert.equal(ok.status, 200)
      assert.equal(ok.text, answer)
      const refused = await client.post(url, '/kibitz', '{"refuse":true}', BOUND_MS / 2, overall)
      assert.deepEqual(refused, { status: 409, text: '{"error":{"code":"STALE"}}' })
      assert.deepEqual(seen, [
        { route: '/base/kibitz', body: '{"a":1}', type: 'application/json' },
        { route: '/kibitz', body: '{"refuse":true}', type: 'application/json' },
      ])
    } finally {
      await client.close()
      await close(server)
    }
  })

  test(`${path}: an answer over answerBytesMax fails as soon as it passes the bound, however long the peer goes on`, { timeout: BOUND_MS }, async () => {
    const bytesMax = 64 * 1024
    let written = 0
    let stopped: () => void = () => {}
    const peerStopped = new Promise<void>((resolve) => {
      stopped = resolve
    })
    const { url, server } = await serve((_request, _body, response) => {
      // An answer without end: 16 KiB a write for as long as the client reads.
      response.writeHead(200, { 'content-type': 'application/json' })
      const chunk = Buffer.alloc(16 * 1024, 0x20)
      const write = (): void => {
        if (response.destroyed) return
        written += chunk.length
        if (response.write(chunk)) setImmediate(write)
        else response.once('drain', write)
      }
      response.on('close', stopped)
      write()
    })
    const client = new PeerClient({ signer: null, answerBytesMax: bytesMax })
    try {
      await assert.rejects(client.post(url, '/kibitz', '{}', BOUND_MS, overall), (error: unknown) => {
        assert.ok(error instanceof AnswerTooLarge, String(error))
        assert.match(error.message, /over 65536 bytes/)
        return true
      })
      // The client hung up: the peer's writes stop instead of filling memory.
      await peerStopped
      assert.ok(written < 64 * bytesMax, `the peer wrote ${written} bytes before the client hung up`)
    } finally {
      await client.close()
      await close(server)
    }
  })

  test(`${path}: an answer of exactly answerBytesMax comes back whole; an out-of-band answer is not held to the bound`, { timeout: BOUND_MS }, async () => {
    const bytesMax = 4096
    const { url, server } = await serve((request, _body, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(request.url === '/oob' ? 'y'.repeat(4 * bytesMax) : 'x'.repeat(bytesMax))
    })
    const client = new PeerClient({ signer: null, answerBytesMax: bytesMax })
    try {
      assert.equal((await client.post(url, '/kibitz', '{}', BOUND_MS / 2, overall)).text.length, bytesMax)
      assert.equal((await client.post(url, '/oob', '{}', BOUND_MS / 2, overall)).text.length, 4 * bytesMax)
    } finally {
      await client.close()
      await close(server)
    }
  })

  test(`${path}: a peer that never answers is a rejection within the timeout`, { timeout: BOUND_MS }, async () => {
    const { url, server } = await serve(() => {})
    const client = new PeerClient({ signer: null })
    try {
      await assert.rejects(client.post(url, '/kibitz', '{}', 300, overall))
    } finally {
      await client.close()
      await close(server)
    }
  })

  test(`${path}: a peer nobody listens for is a rejection`, { timeout: BOUND_MS }, async () => {
    const { url, server } = await serve(() => {})
    await close(server)
    const client = new PeerClient({ signer: null, connectTimeoutMs: 2_000 })
    try {
      await assert.rejects(client.post(url, '/kibitz', '{}', 2_000, overall))
    } finally {
      await client.close()
    }
  })

  test(`${path}: on a signed island every request carries a signature the peer verifies`, { timeout: BOUND_MS }, async () => {
    const verifier = new Signer('island-secret', { now: () => Date.now() })
    const verdicts: boolean[] = []
    const { url, server } = await serve((request, body, response) => {
      verdicts.push(verifier.verify('POST', '/kibitz', body, request.headers['x-paxos-timestamp'], request.headers['x-paxos-signature']))
      response.writeHead(204).end()
    })
    const client = new PeerClient({ signer: new Signer('island-secret', { now: () => Date.now() }) })
    try {
      assert.deepEqual(await client.post(url, '/kibitz', '{"n":1}', BOUND_MS / 2, overall), { status: 204, text: '' })
      assert.deepEqual(await client.post(url, '/kibitz', '{"n":2}', BOUND_MS / 2, overall), { status: 204, text: '' })
      assert.deepEqual(verdicts, [true, true])
    } finally {
      await client.close()
      await close(server)
    }
  })
}

test('a closed client refuses to post', { timeout: BOUND_MS }, async () => {
  const client = new PeerClient({ signer: null })
  await client.close()
  await assert.rejects(client.post('http://127.0.0.1:9', '/kibitz', '{}', 1000, false), /closed/)
})
