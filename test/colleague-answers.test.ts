// A member answers a peer's POST /kibitz with its acceptor's replies to that
// peer (a kibitz body of its own), instead of a POST back: the leader's round
// costs one request per follower. The answer is checked like any inbound
// body; a signed island does not answer (answers are not signed).

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HttpTransport } from '../src/colleague/http-transport.js'
import type { PeerTransport, PostAnswer } from '../src/colleague/peer-client.js'
import type { Message } from '../src/paxos/types.js'
import { settle, startIsland, stopAll, waitFor, type Member } from './colleague-island.js'

const accepted: Message = { type: 'accepted', ballot: { round: 2, id: 'a' }, ranges: [{ from: 5, to: 7 }], commit: 4 }

function answeringTransport(text: string, invalid: string[]): HttpTransport {
  const client: PeerTransport = {
    post: async (): Promise<PostAnswer> => ({ status: 200, text }),
    close: async () => {},
  }
  return new HttpTransport({
    client,
    islandName: 'isle',
    from: 'a',
    islandId: () => 'id-1',
    locate: (id) => `http://127.0.0.1:1/${id}`,
    bodyBytesMax: 4096,
    timeoutMs: 1000,
    onInvalidAnswer: (to, reason) => invalid.push(`${to}: ${reason}`),
    onOversized: (to, bytes) => invalid.push(`${to}: ${bytes} bytes`),
  })
}

const answer = (overrides: Record<string, unknown> = {}): string =>
  JSON.stringify({ islandName: 'isle', islandId: 'id-1', from: 'b', to: 'a', messages: [accepted], ...overrides })

test('a valid answer to a send comes back as the peer\'s messages', async () => {
  const invalid: string[] = []
  assert.deepEqual(await answeringTransport(answer(), invalid).send('b', [accepted]), [accepted])
  assert.deepEqual(invalid, [])
})

test('an answer that fails any check is dropped whole and reported', async () => {
  const cases: [string, string][] = [
    ['not JSON', '{"messages":'],
    ['another island (name)', answer({ islandName: 'other' })],
    ['another island (id)', answer({ islandId: 'id-2' })],
    ['from someone else', answer({ from: 'c' })],
    ['to someone else', answer({ to: 'c' })],
    ['a malformed message', answer({ messages: [{ type: 'accepted', ballot: 'x' }] })],
    ['over bodyBytesMax', answer({ messages: Array.from({ length: 100 }, () => accepted) })],
  ]
  for (const [what, text] of cases) {
    const invalid: string[] = []
    assert.deepEqual(await answeringTransport(text, invalid).send('b', [accepted]), [], what)
    assert.equal(invalid.length, 1, what)
    assert.match(invalid[0] as string, /^b: /, what)
  }
})

async function answeredOnFollowers(members: readonly Member[]): Promise<number[]> {
  const leader = members.find((member) => member.colleague.health().isLeader) as Member
  for (let index = 0; index < 20; index++) await leader.colleague.enqueue(`v${index}`)
  await waitFor(() => members.every((member) => member.app.values.length >= 20), 20_000, 'every member to apply 20 values')
  for (const member of members) assert.deepEqual(member.app.values.slice(-20), Array.from({ length: 20 }, (_, index) => `v${index}`))
  return members.filter((member) => member !== leader).map((member) => member.colleague.health().transport.messagesAnswered)
}

test('followers answer the leader\'s rounds in their responses, and every member applies the same values', { timeout: 60_000 }, async () => {
  const members = await startIsland(3, 'answers')
  try {
    await settle(members)
    const answered = await answeredOnFollowers(members)
    assert.ok(answered.every((count) => count > 0), `followers answered ${answered.join(', ')} messages`)
  } finally {
    await stopAll(members)
  }
})

test('on a signed island nothing travels in answers, and values still commit', { timeout: 60_000 }, async () => {
  const members = await startIsland(3, 'answers-signed', { secret: 'shared secret' })
  try {
    await settle(members)
    assert.deepEqual(await answeredOnFollowers(members), [0, 0])
  } finally {
    await stopAll(members)
  }
})
