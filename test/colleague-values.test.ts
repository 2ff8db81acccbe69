import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { Colleague, ColleagueError, type JsonValue } from '../src/index.js'
import type { PinoLikeLogger } from '../src/colleague/logger.js'
import { encodeValue } from '../src/colleague/value-text.js'
import { ListApplication, settle, startIsland, stopAll, TEST_TIMING, waitFor, type Member } from './colleague-island.js'
import { linesAt, recordingLogger, type Line } from './support/logger.js'

/** Every kind of value JSON cannot carry exactly, at the top and deeper down. */
function badValues(): Array<[string, unknown]> {
  const cycle: Record<string, unknown> = { a: 1 }
  cycle.self = cycle
  const deepCycle: unknown[] = [{ b: [] as unknown[] }]
  ;((deepCycle[0] as { b: unknown[] }).b).push(deepCycle)
  return [
    ['undefined', undefined],
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a bigint', 1n],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['a cycle', cycle],
    ['a cycle further down', deepCycle],
    ['a nested function', { a: { f() {} } }],
    ['a nested symbol', [{ s: Symbol.iterator }]],
    ['a nested bigint', { n: [1, 2, 3n] }],
    ['a nested NaN', [0, NaN]],
    ['a nested Infinity', { a: { b: -Infinity } }],
    ['undefined in an array', [1, undefined]],
    ['a boxed NaN', { n: new Number(NaN) }],
    ['a throwing toJSON', { toJSON: () => { throw new Error('no') } }],
    // Objects whose text would be {} or lose what they hold.
    ['a Map', new Map([['a', 1]])],
    ['a nested Set', { s: new Set([1]) }],
    ['a WeakMap', [new WeakMap()]],
    ['a Promise', { p: Promise.resolve(1) }],
    ['a RegExp', /x/],
    ['an Error', { e: new Error('x') }],
    ['a typed array', new Uint8Array([1, 2])],
    ['an ArrayBuffer', { b: new ArrayBuffer(4) }],
    ['a WeakRef', { r: new WeakRef({}) }],
    ['a Blob', [new Blob(['x'])]],
    ['a generator', { g: (function* () {})() }],
    ['a boxed symbol', { s: Object(Symbol('s')) }],
    ['an arguments object', (function (..._: unknown[]) { return arguments })(1, 2)],
    ['Math', { m: Math }],
    ['an invalid Date', new Date(Number.NaN)],
    ['a nested invalid Date', { at: [new Date('not a date')] }],
    ['an invalid Date behind a getter', Object.defineProperty({}, 'when', { enumerable: true, get: () => new Date(Number.NaN) })],
    ['nesting deeper than the stack allows', nested(200_000)],
  ]
}

/** `[[[...]]]`, `depth` arrays deep. */
function nested(depth: number): unknown {
  let value: unknown = []
  for (let index = 1; index < depth; index++) value = [value]
  return value
}

/** Values JSON carries (as their own enumerable properties, or their toJSON), and the text each is. */
function goodValues(): Array<[string, unknown, string]> {
  class Point {
    readonly x = 1
    readonly y = 2
    get sum(): number {
      return this.x + this.y
    }
  }
  const bare = Object.create(null) as Record<string, unknown>
  bare.a = 1
  return [
    ['a class instance: its own fields', new Point(), '{"x":1,"y":2}'],
    ['an object without a prototype', bare, '{"a":1}'],
    ['boxed primitives', [new String('s'), new Boolean(false), new Number(2)], '["s",false,2]'],
    ['a Date: its ISO string', { at: new Date(0) }, '{"at":"1970-01-01T00:00:00.000Z"}'],
    ['a Buffer: its toJSON', Buffer.from('hi'), '{"type":"Buffer","data":[104,105]}'],
    ['a URL: its toJSON', new URL('http://a.example/b'), '"http://a.example/b"'],
    ['an object with toJSON', { v: { toJSON: () => 'own' } }, '{"v":"own"}'],
    ['null inside', { a: null, b: [null] }, '{"a":null,"b":[null]}'],
    ['-0, which JSON writes as 0', { z: -0 }, '{"z":0}'],
    ['a deep value the stack allows', nested(1000), '['.repeat(1000) + ']'.repeat(1000)],
  ]
}

test('encodeValue: JSON text, refusing what JSON would not carry exactly', () => {
  assert.equal(encodeValue({ a: 1, b: [true, null, 'x'] }, 1024), '{"a":1,"b":[true,null,"x"]}')
  assert.equal(encodeValue({ a: undefined, b: 2 }, 1024), '{"b":2}')
  assert.equal(encodeValue(new Date(0), 1024), '"1970-01-01T00:00:00.000Z"')
  for (const [name, value] of badValues()) {
    assert.throws(() => encodeValue(value, 1024 * 1024), { name: 'ColleagueError', code: 'INVALID_VALUE' }, name)
  }
  for (const [name, value, text] of goodValues()) assert.equal(encodeValue(value, 1024 * 1024), text, name)
  assert.throws(() => encodeValue(new Map(), 1024), { message: /the value is a Map, which JSON would not carry/ })
  assert.throws(() => encodeValue({ at: new Date(Number.NaN) }, 1024), { message: /the value at "at" is an invalid Date/ })
  assert.throws(() => encodeValue(nested(200_000), 1024 * 1024), { message: /nested too deeply/ })
  assert.equal(encodeValue('é'.repeat(512), 1026), `"${'é'.repeat(512)}"`)
  assert.throws(() => encodeValue('é'.repeat(512), 1025), { code: 'VALUE_TOO_LARGE' }, 'counted in UTF-8 bytes')
})

test('bad values are refused at once on the leader and on a follower; the island goes on', { timeout: 60_000 }, async () => {
  const members = await startIsland(3, 'values', { valueBytesMax: 4096 })
  try {
    await settle(members)
    const leaderId = members[0]?.colleague.health().leader
    const leader = members.find((member) => member.colleague.colleagueId === leaderId) as Member
    const follower = members.find((member) => member !== leader) as Member
    for (const member of [leader, follower]) {
      for (const [name, value] of badValues()) {
        // Past the types, as JavaScript (or a cast) would pass it: refused at run time.
        const refused = await settleWithin(member.colleague.enqueue(value as JsonValue), 5_000)
        assert.ok(refused instanceof ColleagueError, `${name} on ${member.colleague.colleagueId}: refused, not ${String(refused)}`)
        assert.equal(refused.code, 'INVALID_VALUE', `${name} on ${member.colleague.colleagueId}`)
      }
      await assert.rejects(member.colleague.enqueue('x'.repeat(4096)), { code: 'VALUE_TOO_LARGE' })
    }
    // Good values from every member commit right after, and every member applies the same values.
    const when = new Date(Date.UTC(2026, 0, 2))
    const good: unknown[] = []
    for (const [index, member] of members.entries()) {
      const values = [{ index, when }, { index, gone: undefined, kept: [1, 'two', null] }, 'x'.repeat(4094), index]
      for (const value of values) {
        good.push(JSON.parse(JSON.stringify(value)))
        // A Date is no JsonValue to the compiler; at run time its toJSON applies, as with JSON anywhere.
        await settleOrThrow(member.colleague.enqueue(value as JsonValue), 10_000)
      }
    }
    await waitFor(() => members.every((member) => member.app.values.length === good.length), 20_000, 'every member applied')
    for (const member of members) {
      // Nothing of the refused calls was enqueued; the submitter too applies the parsed value.
      assert.deepEqual(member.app.values, good, `values applied on ${member.colleague.colleagueId}`)
    }
    assert.equal((leader.app.values[0] as { when: unknown }).when, when.toISOString())
  } finally {
    await stopAll(members)
  }
})

test('values near valueBytesMax, many at once, commit: no round, catch-up or promise outgrows a body, across a change of leader', { timeout: 90_000 }, async () => {
  // Bodies of 64 KiB, values of up to 16 KiB: 48 values at once would make one
  // round of 750 KiB, which no peer would take, were rounds bounded by count alone.
  const bodyBytesMax = 64 * 1024
  const members = await startIsland(3, 'large', { bodyBytesMax, valueBytesMax: bodyBytesMax / 4 })
  try {
    await settle(members)
    const leaderId = members[0]?.colleague.health().leader
    const leader = members.find((member) => member.colleague.colleagueId === leaderId) as Member
    const followers = members.filter((member) => member !== leader)
    const value = (tag: string, index: number): string => `${tag}${index}:${'x'.repeat(bodyBytesMax / 4 - 16)}`
    const [follower, other] = followers as [Member, Member]
    // On the leader; then through a follower, which forwards them to it.
    await settleOrThrow(Promise.all(Array.from({ length: 48 }, (_, index) => leader.colleague.enqueue(value('l', index)))), 30_000)
    await settleOrThrow(Promise.all(Array.from({ length: 48 }, (_, index) => follower.colleague.enqueue(value('f', index)))), 30_000)
    // Then through the other, their leader gone while they are in flight.
    const last = Array.from({ length: 48 }, (_, index) => other.colleague.enqueue(value('o', index)))
    await new Promise((resolve) => setTimeout(resolve, 20))
    await leader.colleague.shutdown()
    await settleOrThrow(Promise.all(last), 60_000)
    await waitFor(() => followers.every((member) => member.app.values.length >= 144), 30_000, 'both followers applied every value')
    for (const member of followers) {
      const applied = new Set(member.app.values as string[])
      assert.equal(applied.size, member.app.values.length, `no value applied twice on ${member.colleague.colleagueId}`)
      for (let index = 0; index < 48; index++) {
        for (const tag of ['l', 'f', 'o']) assert.ok(applied.has(value(tag, index)), `value ${tag}${index} applied on ${member.colleague.colleagueId}`)
      }
    }
  } finally {
    await stopAll(members)
  }
})

test('valueBytesMax must leave room in a body', () => {
  const application = { entry: () => {} }
  assert.throws(() => new Colleague({ islandName: 'o', application, valueBytesMax: 0 }), { code: 'INVALID_OPTIONS' })
  assert.throws(() => new Colleague({ islandName: 'o', application, bodyBytesMax: 4096, valueBytesMax: 2048 }), {
    code: 'INVALID_OPTIONS',
  })
  assert.doesNotThrow(() => new Colleague({ islandName: 'o', application, bodyBytesMax: 4096, valueBytesMax: 1024 }))
})

test('a peer that refuses the leader is logged at warn with its code, and the island still commits', { timeout: 60_000 }, async () => {
  const timing = { ...TEST_TIMING, timeoutMs: 1_000 }
  const leaderLines: Line[] = []
  const leaderLog = recordingLogger(leaderLines)
  const members: GatedMember[] = []
  try {
    for (let index = 0; index < 3; index++) {
      const member = await startGated('refused', `m${index}`, timing, index === 0 ? leaderLog : undefined)
      members.push(member)
      if (index === 0) await member.colleague.bootstrap()
      else await member.colleague.join((members[0] as GatedMember).url)
    }
    await settle(members)
    const [first, second, third] = members as [GatedMember, GatedMember, GatedMember]
    assert.equal(first.colleague.health().leader, 'm0')
    // m2 refuses every peer body, as it would a message that fails its validation.
    third.refusing = true
    for (let index = 0; index < 6; index++) await settleOrThrow((index % 2 === 0 ? first : second).colleague.enqueue(index), 10_000)
    await waitFor(() => third.refused > 0, 10_000, 'm2 to refuse a body')
    const warnings = linesAt(leaderLines, 'warn').map((line) => line.fields)
    const warning = warnings.find((fields) => fields.to === 'm2')
    assert.ok(warning !== undefined, `the leader warned about m2; warnings: ${JSON.stringify(warnings)}`)
    assert.equal(warning.code, 'INVALID_BODY')
    assert.equal(warning.status, 400)
    third.refusing = false
    for (let index = 6; index < 12; index++) await settleOrThrow((members[index % 3] as GatedMember).colleague.enqueue(index), 10_000)
    const expected = Array.from({ length: 12 }, (_, index) => index)
    await waitFor(() => members.every((member) => member.app.values.length === 12), 20_000, 'every member applied')
    for (const member of members) assert.deepEqual(member.app.values, expected, member.colleague.colleagueId)
  } finally {
    await Promise.all(members.map((member) => member.stop()))
  }
})

interface GatedMember extends Member {
  refusing: boolean
  refused: number
  stop(): Promise<void>
}

/** A colleague mounted behind a gate that, when `refusing`, answers every POST /kibitz with 400 INVALID_BODY. */
async function startGated(islandName: string, colleagueId: string, timing: typeof TEST_TIMING | Record<string, number>, logger?: PinoLikeLogger): Promise<GatedMember> {
  const app = new ListApplication()
  const server: Server = createServer((request, response) => {
    if (member.refusing && request.url === '/kibitz') {
      member.refused++
      request.resume()
      response.writeHead(400, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ error: { code: 'INVALID_BODY', message: '/messages/0: refused by the test' } }))
      return
    }
    member.colleague.handler(request, response)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const colleague = new Colleague({
    islandName,
    colleagueId,
    location: url,
    ...timing,
    ...(logger !== undefined && { logger }),
    application: {
      entry: (entry) => app.entry(entry),
      snapshot: () => app.snapshot(),
      restore: (state) => app.restore(state),
    },
  })
  const member: GatedMember = {
    colleague,
    app,
    url,
    refusing: false,
    refused: 0,
    async stop() {
      await colleague.shutdown()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  return member
}

/** The promise's rejection, or a failure if it resolves or neither happens within `timeoutMs`. */
async function settleWithin(promise: Promise<unknown>, timeoutMs: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise((resolve) => (timer = setTimeout(() => resolve(new Error(`not settled within ${timeoutMs} ms`)), timeoutMs)))
  try {
    return await Promise.race([promise.then((value) => new Error(`resolved ${JSON.stringify(value)}`), (error: unknown) => error), late])
  } finally {
    clearTimeout(timer)
  }
}

/** Awaits `promise`, failing instead of hanging after `timeoutMs`. */
async function settleOrThrow<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not settled within ${timeoutMs} ms`)), timeoutMs)))
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}
