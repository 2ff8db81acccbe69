// The one body reader: a body within its limit whole, one over it refused
// whether its length was declared or it just kept coming, and drained either
// way so that the refusal can still be answered.

import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { PassThrough } from 'node:stream'
import { test } from 'node:test'
import { BodyTooLarge, readBody } from '../src/colleague/read-body.js'

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
