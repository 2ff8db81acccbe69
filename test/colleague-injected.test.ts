// The colleague's injection points: three colleagues that share no socket,
// only an in-process transport, found an island, admit a newcomer through a
// follower, and apply what any of them enqueues. Every request one colleague
// makes to another passes through the transport, and arrives through
// `colleague.request`, as over HTTP.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Colleague } from '../src/colleague/colleague.js'
import { isColleagueError } from '../src/colleague/errors.js'
import type { AppliedEntry } from '../src/colleague/options.js'
import type { JsonValue } from '../src/colleague/json.js'
import type { PeerRoute, PeerTransport, PostAnswer } from '../src/colleague/peer-client.js'
import { seededRandom } from '../src/colleague/random.js'

class LoopbackNetwork {
  readonly colleagues = new Map<string, Colleague>()
  readonly routes = new Map<string, number>()

  transport(): PeerTransport {
    return {
      post: async (location: string, route: PeerRoute, body: string): Promise<PostAnswer> => {
        this.routes.set(route, (this.routes.get(route) ?? 0) + 1)
        const target = this.colleagues.get(location)
        if (target === undefined) throw new Error(`nothing at ${location}`)
        try {
          const result = await target.request(route.slice(1), JSON.parse(body) as unknown)
          return result === undefined ? { status: 204, text: '' } : { status: 200, text: JSON.stringify(result) }
        } catch (error) {
          if (!isColleagueError(error)) throw error
          return { status: error.status, text: JSON.stringify(error.toBody()) }
        }
      },
      close: async () => {},
    }
  }
}

test('colleagues on an injected transport and seeded ids found an island and admit a newcomer through a follower', async () => {
  const network = new LoopbackNetwork()
  const applied = new Map<string, unknown[]>()
  let ids = 0
  const make = (name: string): Colleague => {
    const log: unknown[] = []
    applied.set(name, log)
    let state: JsonValue[] = []
    const colleague = new Colleague({
      islandName: 'isle',
      colleagueId: name,
      location: `http://${name}.invalid`,
      pingMs: 20,
      timeoutMs: 200,
      joinTimeoutMs: 10_000,
      random: seededRandom(name.charCodeAt(0)),
      randomId: () => `island-${++ids}`,
      transport: network.transport(),
      application: {
        entry: (entry: AppliedEntry) => {
          log.push(entry.value)
          state.push(entry.value)
        },
        snapshot: () => state,
        restore: (snapshot) => {
          state = [...(snapshot as JsonValue[])]
        },
      },
    })
    network.colleagues.set(`http://${name}.invalid`, colleague)
    return colleague
  }
  const a = make('a')
  const b = make('b')
  const c = make('c')
  try {
    await a.bootstrap()
    assert.equal(a.health().islandId, 'island-1')
    await b.join('http://a.invalid')
    await a.enqueue({ n: 1 })
    // c asks b, a follower; b forwards the immigration to the leader a.
    await c.join('http://b.invalid')
    await c.enqueue({ n: 2 })
    await b.enqueue({ n: 3 })
    await c.enqueue({ n: 4 })
    const active = process.getActiveResourcesInfo().filter((name) => name.startsWith('TCP'))
    assert.deepEqual(active, [], 'no socket opened')
    assert.ok((network.routes.get('/join') ?? 0) >= 2, 'joins went through the transport')
    assert.equal(network.routes.get('/oob'), 2, 'one out-of-band request per newcomer')
    assert.ok((network.routes.get('/kibitz') ?? 0) > 0)
    assert.deepEqual(applied.get('b')?.slice(0, 3), [{ n: 1 }, { n: 2 }, { n: 3 }])
    assert.deepEqual(applied.get('c'), [{ n: 2 }, { n: 3 }, { n: 4 }], 'c applies what came after its arrival')
  } finally {
    await Promise.all([a.shutdown(), b.shutdown(), c.shutdown()])
  }
})
