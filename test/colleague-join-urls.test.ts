// join() given several members: any one that answers will do. The next is
// asked at once when one cannot be reached, and after one timeout when one
// does not answer; an argument that is not one or more http URLs is refused
// and changes nothing.

import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { test } from 'node:test'
import { isColleagueError } from '../src/index.js'
import { startIsland, startMember, stopAll, waitFor, type Member } from './colleague-island.js'
import { closeServer, deadUrl, listen } from './support/servers.js'

/** A colleague that joins through `url` alone fails with `code`. */
async function joinFailsThrough(name: string, url: string, code: string): Promise<void> {
  const alone = await startMember(name, { colleagueId: 'alone' })
  try {
    await assert.rejects(alone.colleague.join(url), (error: unknown) => isColleagueError(error) && error.code === code)
  } finally {
    await stopAll([alone])
  }
}

/** Joins a newcomer to an island of one with `urls(founder)`, enqueues through it and checks the founder applied it. */
async function joinThrough(name: string, urls: (founder: Member) => Promise<string[]>, joinTimeoutMs: number): Promise<void> {
  const members = await startIsland(1, name)
  const [founder] = members as [Member]
  const extra: Member[] = []
  try {
    const given = await urls(founder)
    const newcomer = await startMember(name, { colleagueId: 'newcomer', joinTimeoutMs })
    extra.push(newcomer)
    await newcomer.colleague.join(given)
    assert.equal(newcomer.colleague.naturalized(), true)
    await newcomer.colleague.enqueue('after the join')
    await waitFor(() => founder.app.values.length === 1, 20_000, 'the founder applied')
  } finally {
    await stopAll([...members, ...extra])
  }
}

// The first member cannot be reached: the second is asked at once. Joining
// through the first alone fails with JOIN_FAILED (checked below), so this
// join went through the second.
test('a join given a member that cannot be reached and a living one goes through the living one', { timeout: 60_000 }, async () => {
  const dead = await deadUrl()
  await joinFailsThrough('join-urls-dead', dead, 'JOIN_FAILED')
  await joinThrough('join-urls-dead', async (founder) => [dead, founder.url], 20_000)
})

// The first member takes the request and never answers (a paused process, a
// connection that hangs): after one timeout the second is asked too. Joining
// through the first alone would wait out the whole join and fail; the join's
// time is long enough that only asking the second gets it done in time.
test('a join given a member that never answers and a living one goes through the living one', { timeout: 60_000 }, async () => {
  let held = 0
  const silent = createServer((request) => {
    held++
    request.resume()
  })
  const silentUrl = await listen(silent)
  try {
    await joinThrough('join-urls-silent', async (founder) => [silentUrl, founder.url], 20_000)
    assert.ok(held >= 1, 'the silent member was asked first')
  } finally {
    await closeServer(silent)
  }
})

// The first member refuses (here: it is not in an island yet, as a member
// still joining answers). That is one member's refusal, not the island's:
// the next member is asked at once. Joining through the first alone fails
// with JOIN_REFUSED (checked below).
test('a join given a member that refuses and a living one goes through the living one', { timeout: 60_000 }, async () => {
  const refusing = createServer((request, response) => {
    request.resume()
    request.on('end', () => {
      response.writeHead(409, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ error: { code: 'NOT_JOINED', message: 'this colleague is not in an island yet' } }))
    })
  })
  const refusingUrl = await listen(refusing)
  try {
    await joinFailsThrough('join-urls-refused', refusingUrl, 'JOIN_REFUSED')
    await joinThrough('join-urls-refused', async (founder) => [refusingUrl, founder.url], 20_000)
  } finally {
    await closeServer(refusing)
  }
})

test('join() refuses what is not one or more http URLs, and the colleague can join after', { timeout: 60_000 }, async () => {
  const members = await startIsland(1, 'join-urls-misuse')
  const [founder] = members as [Member]
  const newcomer = await startMember('join-urls-misuse', { colleagueId: 'newcomer' })
  try {
    const wrong: unknown[] = [[], 42, null, ['ftp://127.0.0.1:1'], ['not a url'], [founder.url, 7], Array.from({ length: 65 }, () => founder.url)]
    for (const given of wrong) {
      await assert.rejects(
        newcomer.colleague.join(given as string[]),
        (error: unknown) => isColleagueError(error) && error.code === 'INVALID_OPTIONS' && /join\(\) takes/.test(error.message),
        `join(${JSON.stringify(given)?.slice(0, 60)})`,
      )
    }
    assert.equal(newcomer.colleague.health().state, 'idle')
    await newcomer.colleague.join([founder.url])
    assert.equal(newcomer.colleague.naturalized(), true)
  } finally {
    await stopAll([...members, newcomer])
  }
})

test('a newcomer the island cannot reach at its location is admitted, exiled, and told so: ID_EXILED, not a join timeout', { timeout: 90_000 }, async () => {
  const members = await startIsland(2, 'join-exiled')
  const [founder] = members as [Member]
  // It advertises a location where nothing listens: the island admits it, never reaches it, and exiles it.
  const unreachable = await startMember('join-exiled', { colleagueId: 'lost', location: await deadUrl(), joinTimeoutMs: 600_000 })
  const again = await startMember('join-exiled', { colleagueId: 'lost' })
  try {
    const failure = await Promise.race([
      unreachable.colleague.join(founder.url).then(() => null, (error: unknown) => error),
      new Promise((resolve) => setTimeout(() => resolve('still joining after 60 s'), 60_000).unref()),
    ])
    assert.ok(isColleagueError(failure), String(failure))
    assert.equal(failure.code, 'ID_EXILED')
    assert.equal(failure.status, 410)
    assert.match(failure.message, /exiled it before it heard of its arrival: no member could reach it at http/)
    assert.equal(unreachable.colleague.health().state, 'idle', 'the colleague stays idle')
    const government = founder.colleague.health().government
    assert.ok(government?.exiled.includes('lost'), 'the island exiled it')
    // Exile is for good: the id is refused at once, whoever asks.
    await assert.rejects(again.colleague.join(founder.url), (error: unknown) => isColleagueError(error) && error.code === 'ID_EXILED')
    await founder.colleague.enqueue('still writing')
  } finally {
    await stopAll([...members, unreachable, again])
  }
})
