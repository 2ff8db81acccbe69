import { strict as assert } from 'node:assert'
import { spawnSync } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { health } from '../src/cli/health.js'
import { describeGovernment, formatHealth, governmentOf } from '../src/cli/health-view.js'
import { MAIN_PATH } from '../src/cli/member-process.js'

const HEALTH = {
  startedAt: '2026-01-01T00:00:00.000Z',
  islandName: 'kv',
  colleagueId: 'b',
  islandId: 'island-1',
  state: 'member',
  location: 'http://127.0.0.1:2',
  government: {
    islandId: 'island-1', number: 7, promise: '7/0',
    majority: ['a', 'b'], minority: ['c'], constituents: ['d'], naturalized: ['a', 'b', 'c'], exiled: ['z'],
    properties: { a: { location: 'http://127.0.0.1:1' }, b: { location: 'http://127.0.0.1:2' }, c: {}, d: { location: 'http://127.0.0.1:4' } },
    arrived: {}, submitters: {},
  },
  leader: 'a',
  isLeader: false,
  naturalized: true,
  positions: { commit: 12, applied: 11, backlog: 1 },
  applying: null,
  pending: 0,
  requests: { kibitz: 40, health: 1 },
  transport: { flushes: 3, sends: 2, messagesSent: 5, sendFailures: 0, messagesDropped: 0 },
  crash: null,
}

test('governmentOf reads roles and locations', () => {
  const view = governmentOf(HEALTH)
  assert.ok(view)
  assert.equal(view.leader, 'a')
  assert.deepEqual(view.locations, { a: 'http://127.0.0.1:1', b: 'http://127.0.0.1:2', d: 'http://127.0.0.1:4' })
  assert.equal(describeGovernment(view), 'government 7: leader a, parliament a b c, constituents d, exiled z')
})

test('formatHealth prints government, members with roles, positions', () => {
  const text = formatHealth('http://127.0.0.1:2', HEALTH)
  assert.match(text, /^health of http:\/\/127\.0\.0\.1:2$/m)
  assert.match(text, /^ {2}government {5}7 \(promise 7\/0\)$/m)
  assert.match(text, /^ {2}parliament +a b c$/m)
  assert.match(text, /^ {2}constituents +d$/m)
  assert.match(text, /^ {4}a +leader +http:\/\/127\.0\.0\.1:1$/m)
  // b answered (its colleagueId): marked with *
  assert.match(text, /^ {2}\* b +parliament +http:\/\/127\.0\.0\.1:2$/m)
  assert.match(text, /^ {4}c +parliament +-$/m)
  assert.match(text, /^ {4}d +constituent +http:\/\/127\.0\.0\.1:4 \(not naturalized\)$/m)
  assert.match(text, /^ {4}z +exiled +-$/m)
  assert.doesNotMatch(text, /majority|minority/)
  assert.equal(text.match(/^ {2}\* /gm)?.length, 1, 'exactly one member is marked')
  assert.match(text, /^ {2}positions +commit 12, applied 11, backlog 1$/m)
  assert.match(text, /^ {2}exiled +z$/m)
  assert.doesNotMatch(text, /undefined|\[object Object\]/)
  assert.doesNotMatch(text, /applying/, 'nothing awaited: no line')
  const stalled = formatHealth('http://127.0.0.1:2', { ...HEALTH, applying: { position: 12, forMs: 10400 } })
  assert.match(stalled, /^ {2}applying +position 12, awaited for 10400 ms$/m)
})

test('formatHealth survives garbage and a member outside any island', () => {
  assert.match(formatHealth('u', { colleagueId: 'x', government: null }), /government +none/)
  assert.match(formatHealth('u', 'not json'), /government +none/)
  assert.equal(governmentOf({ government: { majority: 'a' } })?.leader, null)
})

test('health of an unreachable member: one line on stderr, exit 1', () => {
  const result = spawnSync(process.execPath, [MAIN_PATH, 'health', 'http://127.0.0.1:9', '--timeout-ms', '2000'], {
    encoding: 'utf8',
    timeout: 10_000,
  })
  assert.equal(result.status, 1)
  assert.equal(result.stdout, '')
  assert.match(result.stderr, /^paxos-colleague: GET http:\/\/127\.0\.0\.1:9\/health failed: .+\n$/)
})

test('formatHealth writes control characters in what the island sent as escapes: an id cannot forge or hide a line', () => {
  const forged = 'x\n  leader         mallory\x1b[8m'
  const government = { ...HEALTH.government, majority: ['a', forged], naturalized: ['a', forged] }
  const text = formatHealth('http://127.0.0.1:2', { ...HEALTH, government, exiled: true, heardMs: { a: 12, [forged]: null } })
  assert.doesNotMatch(text, /^ {2}leader +mallory/m, 'no forged line')
  assert.doesNotMatch(text, /\x1b/, 'no terminal escape')
  assert.match(text, /x\\u000a {2}leader {9}mallory\\u001b\[8m/)
  assert.equal(text.match(/^ {2}exiled /gm)?.length, 1, 'the government list only; the member itself on its own line')
  assert.match(text, /^ {2}this member +exiled/m)
  assert.match(text, /^ {2}heard +a 12 ms ago, x\\u000a.* never$/m)
  // C1 controls, line and paragraph separators, bidi overrides and marks, invisible characters: all written as escapes.
  const hidden = formatHealth('http://127.0.0.1:2', { ...HEALTH, location: 'a\u009bb\u2028c\u202ed\u200fe\ufefff\u200bg' })
  assert.match(hidden, /a\\u009bb\\u2028c\\u202ed\\u200fe\\ufefff\\u200bg/)
  assert.equal(formatHealth('http://127.0.0.1:2', { ...HEALTH, location: 'é数😀' }).includes('é数😀'), true, 'other text as it is')
})

test('health: an error answer is printed on one line with what it carries escaped', async () => {
  const server = createServer((_request, response) => {
    response.writeHead(500, { 'content-type': 'application/json' })
    response.end(JSON.stringify({ error: { code: 'INTERNAL', message: 'a\u009b[2Jb\u2028c\u202ed' } }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  try {
    let stderr = ''
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        stderr += chunk.toString()
        done()
      },
    })
    const code = await health(`http://127.0.0.1:${port}`, 5_000, { stdout: sink, stderr: sink })
    assert.equal(code, 1)
    assert.match(stderr, /^paxos-colleague: GET http:\/\/127\.0\.0\.1:\d+\/health answered 500: .*a\\u009b\[2Jb\\u2028c\\u202ed.*\n$/)
    assert.doesNotMatch(stderr, /[\u0080-\u009f\u2028\u202e]/)
  } finally {
    await new Promise((resolve) => server.close(resolve))
  }
})
