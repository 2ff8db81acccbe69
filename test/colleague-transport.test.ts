// The HTTP transport's bodies: what a peer parses is exactly the messages
// sent, whether an accept's entries were serialised for this peer or taken
// from another peer's send of the same round.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HttpTransport } from '../src/colleague/http-transport.js'
import type { PeerClient, PostAnswer } from '../src/colleague/peer-client.js'
import type { Accepted, Message } from '../src/paxos/types.js'

function recordingTransport(bodies: string[], bodyBytesMax = 1 << 20, oversized: string[] = []): HttpTransport {
  const client = {
    post: async (_location: string, _route: string, body: string): Promise<PostAnswer> => {
      bodies.push(body)
      return { status: 204, text: '' }
    },
  } as unknown as PeerClient
  return new HttpTransport({
    client,
    islandName: 'isle',
    from: 'a',
    islandId: () => 'id-1',
    locate: (id) => `http://127.0.0.1:1/${id}`,
    bodyBytesMax,
    timeoutMs: 1000,
    onOversized: (to, bytes) => oversized.push(`${to}: ${bytes} bytes`),
  })
}

test('an accept shared by several peers is sent to each exactly as JSON.stringify writes it', async () => {
  const ballot = { round: 3, id: 'a' }
  const entries: Accepted[] = [
    { position: 7, ballot, entry: { type: 'value', submission: { from: 'b', seq: 1, value: { k: 'é\u2028"x"', n: [1, null] } } } },
    { position: 8, ballot, entry: { type: 'noop' } },
  ]
  const chosen: Accepted[] = [{ position: 6, ballot, entry: { type: 'noop' } }]
  const toB: Message[] = [{ type: 'accept', ballot, entries, chosen: [], commit: 6, trim: 0 }]
  const toC: Message[] = [
    { type: 'naturalize', id: 'a' },
    { type: 'accept', ballot, entries, chosen, commit: 6, trim: 2 },
    { type: 'accept', ballot, entries: [], chosen: [], commit: 8, trim: 2 },
  ]
  const bodies: string[] = []
  const transport = recordingTransport(bodies)
  await transport.send('b', toB)
  await transport.send('c', toC)
  const head = { islandName: 'isle', islandId: 'id-1', from: 'a' }
  assert.deepEqual(bodies, [
    JSON.stringify({ ...head, to: 'b', messages: toB }),
    JSON.stringify({ ...head, to: 'c', messages: toC }),
  ])
})

test('a batch larger than bodyBytesMax leaves in bodies of at most bodyBytesMax bytes, in order; a message no body can hold is dropped and reported', async () => {
  const ballot = { round: 3, id: 'a' }
  // Three-byte characters (one UTF-16 unit each) and a two-byte one: a body is bounded in UTF-8 bytes, not UTF-16 units.
  const accept = (position: number, text: string): Message => ({
    type: 'accept',
    ballot,
    entries: [{ position, ballot, entry: { type: 'value', submission: { from: 'a', seq: position, value: text } } }],
    chosen: [],
    commit: position - 1,
    trim: 0,
  })
  const messages: Message[] = Array.from({ length: 30 }, (_, index) => accept(index + 1, `${index}:${'€'.repeat(300 + index)}é`))
  const tooLarge = accept(100, 'x'.repeat(5000))
  const sent = [...messages.slice(0, 10), tooLarge, ...messages.slice(10)]
  const bodies: string[] = []
  const oversized: string[] = []
  const bodyBytesMax = 4096
  await recordingTransport(bodies, bodyBytesMax, oversized).send('b', sent)
  assert.ok(bodies.length > 3, `${bodies.length} bodies`)
  for (const body of bodies) assert.ok(Buffer.byteLength(body) <= bodyBytesMax, `a body of ${Buffer.byteLength(body)} bytes`)
  const parsed = bodies.map((body) => JSON.parse(body) as { to: string; messages: Message[] })
  assert.ok(parsed.every((body) => body.to === 'b' && body.messages.length > 0))
  assert.deepEqual(parsed.flatMap((body) => body.messages), messages, 'every message that fits, once, in order')
  assert.equal(oversized.length, 1)
  assert.match(oversized[0] as string, /^b: \d+ bytes$/)
  assert.ok(Number(/(\d+) bytes/.exec(oversized[0] as string)?.[1]) > bodyBytesMax)
})
