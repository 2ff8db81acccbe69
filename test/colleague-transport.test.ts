// The HTTP transport's bodies: what a peer parses is exactly the messages
// sent, whether an accept's entries were serialised for this peer or taken
// from another peer's send of the same round.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HttpTransport } from '../src/colleague/http-transport.js'
import type { PeerClient, PostAnswer } from '../src/colleague/peer-client.js'
import type { Accepted, Message } from '../src/paxos/types.js'

function recordingTransport(bodies: string[]): HttpTransport {
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
    bodyBytesMax: 1 << 20,
    timeoutMs: 1000,
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
