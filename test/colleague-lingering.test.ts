// A durable exile lingers: once it commits the government that exiles it,
// it answers as an acceptor (its log may be the last record of the change)
// until a member that applied that government says so. Here the word never
// reaches it until the test lets it through: meanwhile `health()` shows it
// exiled and still a member, its leave() waits and its enqueues are refused;
// then it is told and shuts down.

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Colleague } from '../src/colleague/colleague.js'
import { isColleagueError } from '../src/colleague/errors.js'
import type { JsonValue } from '../src/colleague/json.js'
import type { PeerRoute, PeerTransport, PostAnswer } from '../src/colleague/peer-client.js'
import { seededRandom } from '../src/colleague/random.js'
import { waitFor } from './colleague-island.js'

interface Body {
  messages?: Array<{ type?: string; reason?: string }>
}

/** Colleagues in one process; it can keep the 'exiled' refusal from one of them. */
class Network {
  readonly colleagues = new Map<string, Colleague>()
  /** The location the refusal is kept from, or null. */
  silence: string | null = null
  /** Refusals kept back so far. */
  withheld = 0

  transport(own: string): PeerTransport {
    return {
      post: async (location: string, route: PeerRoute, body: string): Promise<PostAnswer> => {
        const target = this.colleagues.get(location)
        if (target === undefined) throw new Error(`nothing at ${location}`)
        const sent = location === this.silence ? this.withhold(body) : body
        let answer: PostAnswer
        try {
          const result = await target.request(route.slice(1), JSON.parse(sent) as unknown)
          answer = result === undefined ? { status: 204, text: '' } : { status: 200, text: JSON.stringify(result) }
        } catch (error) {
          if (!isColleagueError(error)) throw error
          answer = { status: error.status, text: JSON.stringify(error.toBody()) }
        }
        if (own === this.silence && answer.status === 200) answer = { status: 200, text: this.withhold(answer.text) }
        return answer
      },
      close: async () => {},
    }
  }

  /** `text` without its 'exiled' refusals, when it is a kibitz body. */
  private withhold(text: string): string {
    const body = JSON.parse(text) as Body
    if (!Array.isArray(body.messages)) return text
    const kept = body.messages.filter((message) => !(message.type === 'reject' && message.reason === 'exiled'))
    this.withheld += body.messages.length - kept.length
    return JSON.stringify({ ...body, messages: kept })
  }
}

interface Lingering {
  readonly network: Network
  readonly colleagues: readonly [Colleague, Colleague, Colleague]
  /** The leader's leave(), not settled yet. */
  readonly leaving: Promise<void>
  readonly root: string
}

/** A durable island of three whose leader a left and lingers, its exile committed and nobody's word of it let through. */
async function leaderLingering(): Promise<Lingering> {
  const root = mkdtempSync(join(tmpdir(), 'paxos-linger-'))
  const network = new Network()
  let ids = 0
  const make = (name: string): Colleague => {
    let state: JsonValue[] = []
    const location = `http://${name}.invalid`
    const colleague = new Colleague({
      islandName: 'linger',
      colleagueId: name,
      location,
      pingMs: 50,
      timeoutMs: 1_000,
      joinTimeoutMs: 20_000,
      random: seededRandom(name.charCodeAt(0)),
      randomId: () => `island-${++ids}`,
      transport: network.transport(location),
      storage: { directory: join(root, name) },
      application: {
        entry: (entry) => {
          state.push(entry.value)
        },
        snapshot: () => state,
        restore: (snapshot) => {
          state = [...(snapshot as JsonValue[])]
        },
      },
    })
    network.colleagues.set(location, colleague)
    return colleague
  }
  const colleagues = [make('a'), make('b'), make('c')] as const
  const [a, b, c] = colleagues
  await a.bootstrap()
  await b.join('http://a.invalid')
  await c.join('http://a.invalid')
  await waitFor(
    () => [a, b, c].every((colleague) => colleague.naturalized() && colleague.health().government?.majority.length === 2),
    30_000,
    'a parliament of three',
  )
  assert.equal(a.health().isLeader, true)
  network.silence = 'http://a.invalid'
  const leaving = a.leave()
  let settled = false
  leaving.then(
    () => (settled = true),
    () => (settled = true),
  )
  await waitFor(() => a.health().exiled, 30_000, 'the leader that left to commit its exile')
  // It asks every timeout (1 s) and its successor told it on applying: both withheld, it lingers.
  await waitFor(() => network.withheld >= 2, 30_000, 'two refusals withheld')
  assert.equal(a.health().state, 'member')
  assert.equal(settled, false, 'leave() waits while nobody has told it')
  await assert.rejects(a.enqueue('from an exile'), (error: unknown) => isColleagueError(error) && error.code === 'EXILED')
  assert.equal(b.health().exiled, false)
  await b.enqueue('while it lingers')
  return { network, colleagues, leaving, root }
}

/** `promise`, or a failure after 30 s. */
function within30s<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within 30 s`)), 30_000)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

async function ended(lingering: Lingering): Promise<void> {
  await Promise.all(lingering.colleagues.map((colleague) => colleague.shutdown()))
  rmSync(lingering.root, { recursive: true, force: true })
}

test('a durable leader that left lingers, exiled and still a member, until a member of its successor government tells it', { timeout: 90_000 }, async () => {
  const lingering = await leaderLingering()
  const [a, , c] = lingering.colleagues
  try {
    lingering.network.silence = null
    await within30s(lingering.leaving, 'leave() resolving once the refusal gets through')
    assert.equal(a.health().state, 'shut-down')
    assert.equal(a.health().exiled, true)
    await c.enqueue('after it left')
  } finally {
    await ended(lingering)
  }
})

test('a durable leader shut down while it lingers did leave: its leave() resolves', { timeout: 90_000 }, async () => {
  const lingering = await leaderLingering()
  const [a, , c] = lingering.colleagues
  try {
    // A government without it was chosen (health().exiled); a signal handler stops it meanwhile.
    await a.shutdown()
    await within30s(lingering.leaving, 'leave() resolving after the shutdown')
    assert.equal(a.health().exiled, true)
    await c.enqueue('after it left')
  } finally {
    await ended(lingering)
  }
})
