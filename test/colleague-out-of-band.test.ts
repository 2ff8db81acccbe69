// The newcomer's out-of-band request against a mocked leader: a plain
// node:http server stands in for majority[0]. It forwards the protocol routes
// to a real colleague (whose advertised location is the mock) and scripts the
// answer to POST /oob. Whatever the failure, the newcomer makes exactly one
// request and crashes.

import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { test } from 'node:test'
import { Colleague, type ColleagueError } from '../src/index.js'
import { PeerClient, type PeerTransport } from '../src/colleague/peer-client.js'
import { ListApplication, TEST_TIMING, startMember, waitFor, type Member } from './colleague-island.js'
import { recordingLogger, type Line } from './support/logger.js'
import { closeServer, deadUrl, listen } from './support/servers.js'

type Script = (request: IncomingMessage, response: ServerResponse) => void

interface MockLeader {
  readonly url: string
  readonly leader: Colleague
  readonly oobRequests: unknown[]
  close(): Promise<void>
}

async function startMockLeader(island: string, script: Script, advertise?: string): Promise<MockLeader> {
  const oobRequests: unknown[] = []
  let leader: Colleague | null = null
  const server = createServer((request, response) => {
    if (request.url === '/oob') {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => {
        oobRequests.push(JSON.parse(Buffer.concat(chunks).toString('utf8')))
        script(request, response)
      })
      return
    }
    leader?.handler(request, response)
  })
  const url = await listen(server)
  const app = new ListApplication()
  app.values.push('leader-state')
  leader = new Colleague({
    islandName: island,
    colleagueId: 'leader',
    location: advertise ?? url,
    ...TEST_TIMING,
    application: { entry: (entry) => app.entry(entry), snapshot: () => app.snapshot() },
  })
  await leader.bootstrap()
  const started = leader
  return {
    url,
    leader: started,
    oobRequests,
    close: async () => {
      await started.shutdown()
      await closeServer(server)
    },
  }
}

function answer(status: number, body: string): Script {
  return (_request, response) => {
    response.writeHead(status, { 'content-type': 'application/json' })
    response.end(body)
  }
}

async function expectCrash(mock: MockLeader, newcomer: Member, joinVia: string): Promise<ColleagueError> {
  const crashed = once(newcomer.colleague, 'crash') as Promise<[ColleagueError]>
  const joined = newcomer.colleague.join(joinVia)
  await assert.rejects(joined, { code: 'OUT_OF_BAND_FAILED' })
  const [error] = await crashed
  assert.equal(error.code, 'OUT_OF_BAND_FAILED')
  assert.equal(newcomer.colleague.health().state, 'crashed')
  assert.deepEqual(newcomer.colleague.health().crash, { code: error.code, message: error.message }, 'health() says why')
  assert.equal(newcomer.colleague.naturalized(), false)
  await assert.rejects(newcomer.colleague.enqueue('after crash'), { code: 'CRASHED' })
  await assert.rejects(newcomer.colleague.request('join', {}), { code: 'INVALID_BODY' })
  await newcomer.colleague.shutdown()
  // The crashed colleague closed its server.
  await assert.rejects(fetch(`${newcomer.url}/health`))
  void mock
  return error
}

test('a successful out-of-band answer is what the newcomer restores', { timeout: 30_000 }, async () => {
  const state = { values: ['from-mock'], positions: [0] }
  const mock = await startMockLeader('oob-ok', answer(200, JSON.stringify({ result: state })))
  const lines: Line[] = []
  const newcomer = await startMember('oob-ok', { colleagueId: 'newcomer', logger: recordingLogger(lines) })
  try {
    await newcomer.colleague.join(mock.url)
    assert.equal(newcomer.colleague.naturalized(), true)
    assert.deepEqual(newcomer.app.restored, state)
    assert.equal(mock.oobRequests.length, 1)
    const [request] = mock.oobRequests as [{ name: string; from: string; post: { arrival: string } }]
    assert.equal(request.name, 'snapshot')
    assert.equal(request.from, 'newcomer')
    assert.equal(typeof request.post.arrival, 'string')
    const call = lines.find((line) => line.message === 'outOfBandCall')
    const ret = lines.find((line) => line.message === 'outOfBandReturn')
    assert.equal(call?.level, 'trace')
    assert.equal(call?.fields.invocation, 1)
    assert.equal(ret?.fields.invocation, 1)
    assert.equal(ret?.fields.ok, true)
    await newcomer.colleague.enqueue('after join')
  } finally {
    await newcomer.colleague.shutdown()
    await mock.close()
  }
})

test('a custom join callback gets the leader answer for its own request', { timeout: 30_000 }, async () => {
  const mock = await startMockLeader('oob-custom', answer(200, JSON.stringify({ result: { rows: 3 } })))
  const seen: unknown[] = []
  const newcomer = new Colleague({
    islandName: 'oob-custom',
    colleagueId: 'custom',
    ...TEST_TIMING,
    application: {
      entry: () => {},
      join: async ({ arrival, outOfBand }) => {
        seen.push(arrival, await outOfBand('rows', { since: 0 }))
      },
    },
  })
  try {
    await newcomer.listen()
    await newcomer.join(mock.url)
    assert.equal(typeof seen[0], 'string')
    assert.deepEqual(seen[1], { rows: 3 })
    assert.equal(mock.oobRequests.length, 1)
    assert.deepEqual((mock.oobRequests[0] as { name: string; post: unknown }).post, { since: 0 })
  } finally {
    await newcomer.shutdown()
    await mock.close()
  }
})

const failures: [string, Script][] = [
  ['500', answer(500, JSON.stringify({ error: { code: 'INTERNAL', message: 'boom' } }))],
  ['404', answer(404, JSON.stringify({ error: { code: 'OUT_OF_BAND_NOT_FOUND', message: 'no' } }))],
  ['a body that is not JSON', answer(200, '{"result": ')],
  ['JSON without a result', answer(200, JSON.stringify({ state: 1 }))],
  [
    'a socket closed in the middle of the answer',
    (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' })
      response.write('{"result": {"values": [')
      setImmediate(() => response.socket?.destroy())
    },
  ],
]

for (const [name, script] of failures) {
  test(`an out-of-band answer of ${name} crashes the newcomer after one request`, { timeout: 30_000 }, async () => {
    const island = `oob-${name.replace(/\W+/g, '-')}`
    const mock = await startMockLeader(island, script)
    const lines: Line[] = []
    const newcomer = await startMember(island, { colleagueId: 'newcomer', logger: recordingLogger(lines) })
    try {
      await expectCrash(mock, newcomer, mock.url)
      assert.equal(mock.oobRequests.length, 1)
      const ret = lines.find((line) => line.message === 'outOfBandReturn')
      assert.equal(ret?.fields.ok, false)
      assert.equal(ret?.fields.invocation, 1)
    } finally {
      await newcomer.colleague.shutdown()
      await mock.close()
    }
  })
}

test('an out-of-band request that times out crashes the newcomer after one request', { timeout: 30_000 }, async () => {
  const hanging: ServerResponse[] = []
  const mock = await startMockLeader('oob-timeout', (_request, response) => void hanging.push(response))
  const newcomer = await startMember('oob-timeout', { colleagueId: 'newcomer', outOfBandTimeoutMs: 300 })
  try {
    await expectCrash(mock, newcomer, mock.url)
    assert.equal(mock.oobRequests.length, 1)
  } finally {
    for (const response of hanging) response.destroy()
    await newcomer.colleague.shutdown()
    await mock.close()
  }
})

test('an unreachable leader (connection refused) crashes the newcomer', { timeout: 30_000 }, async () => {
  // The leader advertises a location where nothing listens; the newcomer
  // joins through the mock, receives the leader's messages, and its single
  // out-of-band request is refused at the connection.
  const dead = await deadUrl()
  const mock = await startMockLeader('oob-refused', answer(500, '{}'), dead)
  const newcomer = await startMember('oob-refused', { colleagueId: 'newcomer' })
  try {
    const error = await expectCrash(mock, newcomer, mock.url)
    assert.match(error.message, /unreachable/)
    assert.equal(mock.oobRequests.length, 0)
  } finally {
    await newcomer.colleague.shutdown()
    await mock.close()
  }
})

test('a custom join callback that swallows the out-of-band failure does not save the newcomer', { timeout: 30_000 }, async () => {
  const mock = await startMockLeader('oob-swallowed', answer(500, JSON.stringify({ error: { code: 'INTERNAL', message: 'boom' } })))
  const swallowed: unknown[] = []
  const newcomer = new Colleague({
    islandName: 'oob-swallowed',
    colleagueId: 'swallower',
    ...TEST_TIMING,
    application: {
      entry: () => {},
      join: async ({ outOfBand }) => {
        await outOfBand('rows', null).catch((error: unknown) => swallowed.push(error))
      },
    },
  })
  try {
    await newcomer.listen()
    const crashed = once(newcomer, 'crash') as Promise<[ColleagueError]>
    await assert.rejects(newcomer.join(mock.url), { code: 'OUT_OF_BAND_FAILED' })
    const [error] = await crashed
    assert.equal(error.code, 'OUT_OF_BAND_FAILED')
    assert.equal(swallowed.length, 1, 'the callback saw the failure')
    assert.equal(newcomer.health().state, 'crashed')
    assert.equal(newcomer.naturalized(), false)
    assert.equal(mock.oobRequests.length, 1)
  } finally {
    await newcomer.shutdown()
    await mock.close()
  }
})

// The rule: ask the leader of the newcomer's arrival government, even when
// leadership has moved on since; only that leader failing is a reason to crash.
test('the out-of-band request goes to the arrival leader, not to a later one', { timeout: 60_000 }, async () => {
  const island = 'oob-arrival-leader'
  const served: string[] = []
  // m0 founds the island behind a gate that can stop its peer messages both
  // ways (and only those): the POSTs it takes, and the POSTs it makes, whose
  // answers would otherwise carry its peers' replies back.
  let gateOpen = true
  const client = new PeerClient({ signer: null })
  const gatedTransport: PeerTransport = {
    post: (location, route, body, timeoutMs, overall) =>
      !gateOpen && route === '/kibitz'
        ? Promise.reject(new Error('gate closed'))
        : client.post(location, route, body, timeoutMs, overall),
    close: () => client.close(),
  }
  let founder: Colleague | null = null
  const gate = createServer((request, response) => {
    if (!gateOpen && request.url === '/kibitz') {
      request.resume()
      response.writeHead(503).end()
      return
    }
    founder?.handler(request, response)
  })
  const gateUrl = await listen(gate)
  const serveAs = (id: string) => ({
    entry: () => {},
    outOfBand: (name: string) => {
      served.push(`${id}:${name}`)
      return { servedBy: id }
    },
    join: async () => {},
  })
  founder = new Colleague({
    islandName: island,
    colleagueId: 'm0',
    location: gateUrl,
    transport: gatedTransport,
    ...TEST_TIMING,
    application: serveAs('m0'),
  })
  const others: Colleague[] = []
  let newcomer: Colleague | null = null
  try {
    await founder.bootstrap()
    for (const id of ['m1', 'm2']) {
      const colleague = new Colleague({ islandName: island, colleagueId: id, ...TEST_TIMING, application: serveAs(id) })
      others.push(colleague)
      await colleague.listen()
      await colleague.join(gateUrl)
    }
    await waitFor(() => others.every((colleague) => (colleague.health().government?.majority.length ?? 0) + (colleague.health().government?.minority.length ?? 0) === 3), 20_000, 'a parliament of three')
    // The newcomer is admitted under m0; its join callback waits, before asking,
    // until its log has passed a government led by someone else.
    let laterLeader: string | null = null
    newcomer = new Colleague({
      islandName: island,
      colleagueId: 'newcomer',
      ...TEST_TIMING,
      application: {
        entry: () => {},
        join: async ({ outOfBand }) => {
          gateOpen = false
          const [survivor] = others as [Colleague]
          await waitFor(() => {
            const government = survivor.health().government
            if (government === null || government.majority[0] === 'm0') return false
            laterLeader = government.majority[0] ?? null
            return true
          }, 20_000, 'a leader other than m0')
          const passed = survivor.health().positions.commit
          await waitFor(() => (newcomer?.health().positions.commit ?? -1) >= passed, 20_000, 'the newcomer to hear of it')
          // m0 is cut off from its peers (and perhaps exiled by now) but still serves POST /oob.
          const answer = await outOfBand('state', null)
          assert.deepEqual(answer, { servedBy: 'm0' })
        },
      },
    })
    await newcomer.listen()
    await newcomer.join((others[0] as Colleague).health().location as string)
    assert.notEqual(laterLeader, null)
    assert.deepEqual(served, ['m0:state'], 'asked the arrival leader, once')
    assert.equal(newcomer.health().state, 'member')
  } finally {
    gateOpen = true
    await Promise.all([founder.shutdown(), ...others.map((colleague) => colleague.shutdown()), newcomer?.shutdown()])
    await closeServer(gate)
  }
})

test("a leader's outOfBand answer JSON would not carry exactly fails the request (the newcomer crashes), not the leader", { timeout: 30_000 }, async () => {
  let answerWith: unknown = new Map([['alice', 1]])
  const leader = new Colleague({
    islandName: 'oob-inexact',
    colleagueId: 'leader',
    host: '127.0.0.1',
    port: 0,
    ...TEST_TIMING,
    application: { entry: () => {}, outOfBand: () => answerWith },
  })
  const newcomer = (id: string, received: unknown[]): Colleague =>
    new Colleague({
      islandName: 'oob-inexact',
      colleagueId: id,
      host: '127.0.0.1',
      port: 0,
      ...TEST_TIMING,
      application: { entry: () => {}, join: async ({ outOfBand }) => void received.push(await outOfBand('users', null)) },
    })
  const received: unknown[] = []
  const first = newcomer('first', received)
  const second = newcomer('second', received)
  try {
    const { url } = await leader.listen()
    await leader.bootstrap()
    await first.listen()
    await assert.rejects(first.join(url), { code: 'OUT_OF_BAND_FAILED' })
    assert.equal(first.health().state, 'crashed')
    assert.deepEqual(received, [], 'the newcomer never installed {} for the Map')
    assert.equal(leader.health().state, 'member', 'the leader goes on')
    await leader.enqueue('still writing')
    // Nothing to answer (undefined) is null, as a snapshot() of undefined is.
    answerWith = undefined
    await second.listen()
    await second.join(url)
    assert.deepEqual(received, [null])
  } finally {
    await Promise.all([leader.shutdown(), first.shutdown(), second.shutdown()])
  }
})
