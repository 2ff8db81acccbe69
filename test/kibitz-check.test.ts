// The hand-written kibitz check (kibitz-check.ts) must accept exactly what the
// compiled schema `KibitzBody` accepts: both are run on valid bodies of every
// message type, on those bodies changed at every spot in turn and at random
// spots, and on random values, and must give the same answer each time.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import fc from 'fast-check'
import { isKibitzBody } from '../src/colleague/kibitz-check.js'
import {
  ENTRIES_PER_MESSAGE_MAX,
  firstError,
  ID_LENGTH_MAX,
  KibitzBody,
  LOCATION_LENGTH_MAX,
  MESSAGES_PER_BODY_MAX,
  NAME_LENGTH_MAX,
  PROPERTIES_MAX,
  validators,
} from '../src/colleague/schemas.js'
import { EXILED_REMEMBERED_MAX, MEMBERS_MAX, RESERVED_IDS } from '../src/paxos/government.js'

// Every property prints its seed on failure (fast-check reports it); pin one with FC_SEED.
const seed = process.env['FC_SEED'] === undefined ? undefined : Number(process.env['FC_SEED'])
const params = (numRuns: number) => ({ numRuns, includeErrorInReport: true, ...(seed === undefined ? {} : { seed }) })

const schema = TypeCompiler.Compile(KibitzBody)

/** Both checks on `value`: equal, and the answer. */
function agreed(value: unknown, how = ''): boolean {
  const expected = schema.Check(value)
  assert.equal(isKibitzBody(value), expected, `the schema says ${expected}${how}`)
  return expected
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type Container = Json[] | { [key: string]: Json }

const reserved = [...RESERVED_IDS]
/** 2 UTF-16 units each: lengths count units, not characters. */
const astral = '\u{1F600}'

const text = (maxLength: number) => fc.oneof(fc.string({ maxLength }), fc.string({ maxLength, unit: 'binary' }))
const id = fc
  .oneof(
    { weight: 4, arbitrary: fc.constantFrom('m1', 'm2', 'm3', 'member-10', 'b0') },
    { weight: 2, arbitrary: text(12).filter((value) => value.length > 0) },
    { weight: 1, arbitrary: fc.constantFrom('x'.repeat(ID_LENGTH_MAX), astral.repeat(ID_LENGTH_MAX / 2), 'toStrin', 'constructors', '__proto') },
  )
  .filter((value) => !RESERVED_IDS.has(value))
const label = fc.oneof(fc.constantFrom('', '1/0', '7/2', 'x'.repeat(NAME_LENGTH_MAX)), text(8))
const count = fc.oneof(fc.constant(0), fc.nat({ max: 1_000_000 }))
const position = fc.oneof(fc.constant(-1), count)
const ballot = fc.record({ round: count, id: fc.oneof(id, fc.constantFrom('', 'constructor', 'x'.repeat(ID_LENGTH_MAX))) })
const members = fc.oneof(
  { weight: 8, arbitrary: fc.array(id, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.constant(Array.from({ length: MEMBERS_MAX }, (_, index) => `m${index}`)) },
)

const propertyName = fc.oneof(fc.constantFrom('location', 'zone', '__proto__', 'constructor', 'x'.repeat(NAME_LENGTH_MAX)), text(10).filter((value) => value.length > 0))
const propertyValue = fc.oneof(fc.constantFrom('http://127.0.0.1:4000', '', 'x'.repeat(LOCATION_LENGTH_MAX)), text(30))
/** Built by JSON.parse, so that a `__proto__` name becomes an own key as it does on the wire. */
const wireProperties = fc
  .uniqueArray(fc.tuple(propertyName, propertyValue), { maxLength: PROPERTIES_MAX, selector: ([name]) => name })
  .map((pairs) => JSON.parse(`{${pairs.map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`).join(',')}}`) as Json)
const byId = <T>(value: fc.Arbitrary<T>) => fc.dictionary(id, value, { maxKeys: 4 })

const government = fc.record({
  islandId: id,
  number: count,
  promise: label,
  majority: members,
  minority: members,
  constituents: members,
  naturalized: members,
  exiled: fc.oneof(
    { weight: 8, arbitrary: fc.array(id, { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.constant(Array.from({ length: EXILED_REMEMBERED_MAX }, (_, index) => `x${index}`)) },
  ),
  properties: byId(wireProperties),
  arrived: byId(label),
  submitters: byId(fc.array(fc.integer(), { maxLength: 4 })),
})
const submission = fc.record(
  { from: id, seq: count, value: fc.oneof(fc.constantFrom('{"n":1}', ''), fc.string()), floor: fc.oneof(count, fc.constant(undefined)) },
  { requiredKeys: ['from', 'seq', 'value'] },
)
const entry = fc.oneof(
  fc.record({ type: fc.constant('value'), submission }),
  fc.record({ type: fc.constant('government'), government }),
  fc.record({ type: fc.constant('noop') }),
)
const acceptedList = fc.array(fc.record({ position: count, ballot, entry }), { maxLength: 4 })
const positioned = fc.oneof(fc.constant(undefined), fc.record({ position: count, government }))
const reason = fc.constantFrom('ballot', 'leader-alive', 'not-member', 'exiled', 'trimmed')

const message = fc.oneof(
  fc.record({ type: fc.constant('prepare'), ballot, from: position, government: positioned }, { requiredKeys: ['type', 'ballot', 'from'] }),
  fc.record(
    { type: fc.constant('promise'), ballot, accepted: acceptedList, commit: position, from: position, government: positioned },
    { requiredKeys: ['type', 'ballot', 'accepted', 'commit', 'from'] },
  ),
  fc.record({ type: fc.constant('accept'), ballot, entries: acceptedList, chosen: acceptedList, commit: position, trim: position }),
  fc.record({ type: fc.constant('accepted'), ballot, ranges: fc.array(fc.record({ from: count, to: count }), { maxLength: 4 }), commit: position }),
  fc.record({ type: fc.constant('reject'), ballot, promised: ballot, commit: position, reason }),
  fc.record(
    {
      type: fc.constant('forward'),
      submissions: fc.array(submission, { maxLength: 3 }),
      commit: fc.oneof(position, fc.constant(undefined)),
      chosen: fc.oneof(acceptedList, fc.constant(undefined)),
    },
    { requiredKeys: ['type', 'submissions'] },
  ),
  fc.record({ type: fc.constant('immigrate'), id, properties: wireProperties }),
  fc.record({ type: fc.constant('naturalize'), id }),
  fc.record({ type: fc.constant('leave') }),
)
const bodyOf = (messagesMax: number) =>
  fc.record({
    islandName: fc.oneof(fc.constantFrom('isle', 'x'.repeat(NAME_LENGTH_MAX), 'constructor'), text(10).filter((value) => value.length > 0)),
    islandId: id,
    from: id,
    to: id,
    messages: fc.array(message, { maxLength: messagesMax }),
  })
const body = bodyOf(4)

test('valid bodies of every message type are accepted by both checks', () => {
  fc.assert(
    fc.property(body, (value) => {
      if (!agreed(value)) assert.fail(`a valid body refused: ${firstError(schema, value)}`)
    }),
    params(1500),
  )
})

/** Values that break (or, by chance, keep) whatever they replace; some no JSON text could hold. */
const weird = fc.oneof(
  fc.constantFrom<unknown>(
    null, true, false, undefined, -2, -1, 0, -0, 0.5, -0.5, 1e308, 2 ** 53 + 2, Number.NaN, Number.POSITIVE_INFINITY,
    '', '1', 'x'.repeat(ID_LENGTH_MAX + 1), astral.repeat(ID_LENGTH_MAX / 2 + 1), 'x'.repeat(LOCATION_LENGTH_MAX + 1),
    [], {}, [1.5], ['m1'], { m1: 'x' }, new Date(0), new Uint8Array(2), new Int16Array(2), 'prepare', 'noop', 'ballot',
  ),
  fc.constantFrom<unknown>(...reserved),
  fc.integer(),
  fc.jsonValue({ maxDepth: 2 }),
)

/** For each kind of value, values of the kind next to its bounds and values of other kinds. */
const retyped: Record<'string' | 'number' | 'array' | 'object' | 'other', readonly unknown[]> = {
  string: [
    '', 'x'.repeat(ID_LENGTH_MAX + 1), astral.repeat(ID_LENGTH_MAX / 2) + 'x', 'x'.repeat(LOCATION_LENGTH_MAX + 1),
    '__proto__', 'constructor', 'toString', 'valueOf', 0, null, undefined, ['m1'], {},
  ],
  number: [-1, -2, 0.5, -0.5, 1e308, Number.NaN, Number.POSITIVE_INFINITY, -0, '1', null, undefined, true, [1], {}],
  array: [{}, { 0: 'm1' }, 'm1', null, undefined, new Uint8Array(1), new Int16Array(1), [null], [1.5], [{}], ['constructor']],
  object: [
    null, undefined, [], 'x', 1, new Date(0), new Uint8Array(1), new Int16Array(1), new Map(), Object.create(null),
    { x: 1 }, { type: 'noop' }, JSON.parse('{"__proto__":"1/0"}'),
  ],
  other: [null, undefined, 0, '', 'x', [], {}],
}
const kindOf = (value: unknown): keyof typeof retyped =>
  typeof value === 'string' ? 'string' : typeof value === 'number' ? 'number' : Array.isArray(value) ? 'array' : isPlainObject(value) ? 'object' : 'other'

/** A key to add to an object: extra keys are fine on most objects but not on records. */
const extraKey = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'toString', '', 'x'.repeat(ID_LENGTH_MAX + 1), 'extra', 'm9', 'type', 'floor', 'government'), fc.constantFrom(...reserved))

/** Lengths to grow an array or an object to: each limit and one past it. */
const lengths = [PROPERTIES_MAX, PROPERTIES_MAX + 1, MEMBERS_MAX, MEMBERS_MAX + 1, EXILED_REMEMBERED_MAX, EXILED_REMEMBERED_MAX + 1]

/** Where `at` falls, taken modulo the spots that fit the change. */
type Mutation =
  | { op: 'delete'; at: number }
  | { op: 'retype'; at: number; pick: number }
  | { op: 'replace'; at: number; value: unknown }
  | { op: 'add'; at: number; key: string; copy: boolean; value: unknown }
  | { op: 'grow'; at: number; length: number }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  { weight: 2, arbitrary: fc.record({ op: fc.constant('retype' as const), at: fc.nat(), pick: fc.nat() }) },
  fc.record({ op: fc.constant('replace' as const), at: fc.nat(), value: weird }),
  { weight: 2, arbitrary: fc.record({ op: fc.constant('add' as const), at: fc.nat(), key: extraKey, copy: fc.boolean(), value: weird }) },
  fc.record({
    op: fc.constant('grow' as const),
    at: fc.nat(),
    length: fc.constantFrom(...lengths),
  }),
)

type Spot = [Container, string | number]

/** Every spot of `value` that holds a value: its container and its key there. */
function spots(value: unknown, found: Spot[] = []): Spot[] {
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      found.push([value as Json[], index])
      spots(value[index], found)
    }
  } else if (isPlainObject(value)) {
    for (const key of Object.keys(value)) {
      found.push([value, key])
      spots(value[key], found)
    }
  }
  return found
}

/** `object` with one more own key; JSON.parse makes even `__proto__` an own key (a literal or an assignment would set the prototype). */
function withKey(object: { [key: string]: Json }, key: string, value: Json): Json {
  const rest = JSON.stringify(object).slice(1)
  return JSON.parse(`{${JSON.stringify(key)}:${JSON.stringify(value)}${rest === '}' ? '' : ','}${rest}`) as Json
}

/** `value` (a copy of a valid body, changed in place) broken at one spot. */
function mutate(value: unknown, mutation: Mutation): void {
  const all = spots(value)
  const fitting =
    mutation.op === 'add' ? all.filter(([container, key]) => isPlainObject(at(container, key)))
    : mutation.op === 'grow' ? all.filter(([container, key]) => Array.isArray(at(container, key)) || isPlainObject(at(container, key)))
    : all
  const spot = fitting[mutation.at % fitting.length]
  if (spot === undefined) return
  const [container, key] = spot
  const slot = container as Record<string | number, unknown>
  const target = slot[key]
  switch (mutation.op) {
    case 'delete':
      if (Array.isArray(container)) container.splice(key as number, 1)
      else delete slot[key]
      return
    case 'retype': {
      const choices = retyped[kindOf(target)]
      slot[key] = copyOf(choices[mutation.pick % choices.length])
      return
    }
    case 'replace':
      slot[key] = copyOf(mutation.value)
      return
    case 'add': {
      const object = target as { [key: string]: Json }
      // A copy of a value already there, so that only the key can be wrong.
      const first = Object.values(object)[0]
      const added: unknown = mutation.copy && first !== undefined ? first : mutation.value
      if (isJson(added)) slot[key] = withKey(object, mutation.key, added as Json)
      else slot[key] = Object.defineProperty({ ...object }, mutation.key, { value: copyOf(added), enumerable: true, writable: true, configurable: true })
      return
    }
    case 'grow':
      if (Array.isArray(target)) {
        const fill: unknown = target.length > 0 ? target[0] : 'g'
        for (let index = target.length; index < mutation.length; index++) target.push(typeof fill === 'string' ? `${fill}-${index}` : fill)
      } else {
        const object = target as Record<string, unknown>
        const fill = Object.values(object)[0] ?? 'x'
        for (let index = Object.keys(object).length; index < mutation.length; index++) object[`p${index}`] = fill
      }
      return
  }
}

const at = (container: Container, key: string | number): unknown => (container as Record<string | number, unknown>)[key]

/** An object as JSON.parse makes one: mutations reach into these and arrays, and leave anything else (a Date, a Map...) whole. */
function isPlainObject(value: unknown): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype
}

/** A copy of `value` to put in a body: a later change in place must not reach the value fast-check holds. */
function copyOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copyOf)
  if (!isPlainObject(value)) return value
  const copy = {}
  for (const key of Object.keys(value)) Object.defineProperty(copy, key, { value: copyOf(value[key]), enumerable: true, writable: true, configurable: true })
  return copy
}

/** Whether JSON text holds `value` as it is. */
function isJson(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true
  if (typeof value === 'number') return Number.isFinite(value)
  if (Array.isArray(value)) return value.every(isJson)
  return isPlainObject(value) && Object.values(value).every(isJson)
}

/** Every change of one spot of `value` that the mutations below make: each kind of change at each spot it fits. */
function everyMutation(value: unknown): Mutation[] {
  const all = spots(value)
  const changes: Mutation[] = []
  let objects = 0
  let containers = 0
  for (let at = 0; at < all.length; at++) {
    const [container, key] = all[at] as Spot
    const target = (container as Record<string | number, unknown>)[key]
    changes.push({ op: 'delete', at })
    const choices = retyped[kindOf(target)]
    for (let pick = 0; pick < choices.length; pick++) changes.push({ op: 'retype', at, pick })
    if (isPlainObject(target)) objects++
    if (isPlainObject(target) || Array.isArray(target)) containers++
  }
  for (let at = 0; at < objects; at++) {
    for (const key of ['__proto__', 'constructor', 'toString', '', 'x'.repeat(ID_LENGTH_MAX + 1), 'extra']) changes.push({ op: 'add', at, key, copy: true, value: null })
  }
  for (let at = 0; at < containers; at++) for (const length of lengths) changes.push({ op: 'grow', at, length })
  return changes
}

test('every change of one spot of a valid body gets the same answer from both checks', () => {
  let checked = 0
  fc.assert(
    fc.property(bodyOf(1), (value) => {
      const text = JSON.stringify(value)
      for (const change of everyMutation(JSON.parse(text))) {
        const broken = JSON.parse(text) as unknown
        mutate(broken, change)
        agreed(broken, ` after ${JSON.stringify(change)}`)
        checked++
      }
    }),
    params(100),
  )
  assert.ok(checked > 10_000, `${checked} changed bodies checked`)
})

test('bodies broken at random spots get the same answer from both checks', () => {
  let rejected = 0
  let runs = 0
  fc.assert(
    fc.property(bodyOf(2), fc.array(mutation, { minLength: 1, maxLength: 2 }), (value, mutations) => {
      const broken = JSON.parse(JSON.stringify(value)) as unknown
      for (const change of mutations) mutate(broken, change)
      runs++
      if (!agreed(broken)) rejected++
    }),
    params(6000),
  )
  // Most of these must be invalid, or the property tests little.
  assert.ok(rejected > runs / 2, `${rejected} of ${runs} broken bodies rejected`)
})

test('random values, alone and in the place of messages, get the same answer from both checks', () => {
  const anything = fc.anything({
    maxDepth: 3,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withNullPrototype: true,
    withSet: true,
    withSparseArray: true,
    withTypedArray: true,
    withObjectString: true,
  })
  const field = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: anything })
  /** A message of a known type whose every field may be anything. */
  const loose = fc.record(
    {
      type: fc.constantFrom('prepare', 'promise', 'accept', 'accepted', 'reject', 'forward', 'immigrate', 'naturalize', 'leave', 'other'),
      ballot: field(ballot),
      promised: field(ballot),
      from: field(position),
      commit: field(position),
      trim: field(position),
      accepted: field(acceptedList),
      entries: field(acceptedList),
      chosen: field(acceptedList),
      ranges: field(fc.array(fc.record({ from: field(count), to: field(count) }), { maxLength: 2 })),
      reason: field(reason),
      submissions: field(fc.array(submission, { maxLength: 2 })),
      id: field(id),
      properties: field(wireProperties),
      government: field(positioned),
    },
    { requiredKeys: ['type'] },
  )
  fc.assert(fc.property(fc.jsonValue(), (value) => void agreed(value)), params(1000))
  fc.assert(fc.property(anything, (value) => void agreed(value)), params(1000))
  fc.assert(
    fc.property(body, fc.array(fc.oneof(fc.jsonValue(), anything, loose), { minLength: 1, maxLength: 3 }), (value, messages) => {
      agreed({ ...value, messages })
    }),
    params(2000),
  )
})

const ballot3 = { round: 3, id: 'm1' }
const aGovernment = {
  islandId: 'island',
  number: 2,
  promise: '2/0',
  majority: ['m1', 'm2'],
  minority: ['m3'],
  constituents: ['m4'],
  naturalized: ['m1', 'm2', 'm3'],
  exiled: ['m0'],
  properties: { m1: { location: 'http://127.0.0.1:1' }, m2: { location: 'http://127.0.0.1:2', zone: 'a' } },
  arrived: { m1: '1/0', m2: '2/0' },
  submitters: { m1: [4, 5], m0: [] },
}
const aBody = (messages: unknown[]) => ({ islandName: 'isle', islandId: 'island', from: 'm2', to: 'm1', messages })

test('an accept carrying a government is accepted, and the validator in use is the fast check', () => {
  const value = aBody([
    {
      type: 'accept',
      ballot: ballot3,
      entries: [
        { position: 7, ballot: ballot3, entry: { type: 'government', government: aGovernment } },
        { position: 8, ballot: ballot3, entry: { type: 'value', submission: { from: 'm2', seq: 1, value: '{"n":1}', floor: 0 } } },
        { position: 9, ballot: ballot3, entry: { type: 'noop' } },
      ],
      chosen: [],
      commit: 6,
      trim: -1,
    },
  ])
  assert.equal(agreed(value), true)
  assert.equal(agreed(JSON.parse(JSON.stringify(value))), true)
  assert.equal(validators.kibitz.Check, isKibitzBody)
})

test('a reserved id is refused as an id and as a record key, and the error still names the rule', () => {
  const prepare = { type: 'prepare', ballot: ballot3, from: 4 }
  for (const id of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    assert.equal(agreed({ ...aBody([prepare]), from: id }), false, id)
    assert.equal(agreed(aBody([{ type: 'naturalize', id }])), false, id)
  }
  const government = (key: string) =>
    JSON.parse(JSON.stringify({ ...prepare, government: { position: 6, government: aGovernment } }).replace('"arrived":{', `"arrived":{"${key}":"1/0",`)) as unknown
  assert.equal(agreed(aBody([government('m9')])), true)
  assert.equal(agreed(aBody([government('__proto__')])), false, 'an own __proto__ key, as JSON.parse makes it')
  assert.equal(agreed(aBody([government('constructor')])), false)
  assert.equal(agreed(aBody([government('')])), false)
  // A member's property name may be any short name, even a reserved one.
  assert.equal(agreed(aBody([JSON.parse('{"type":"immigrate","id":"m5","properties":{"__proto__":"x","location":"http://h"}}')])), true)
  const body = { ...aBody([prepare]), from: 'constructor' }
  assert.match(firstError(validators.kibitz, body), /^\/from: /)
})

test('a record is read by its own enumerable keys only, and no Date or byte array is one', () => {
  const withArrived = (arrived: unknown) => aBody([{ type: 'prepare', ballot: ballot3, from: 4, government: { position: 6, government: { ...aGovernment, arrived } } }])
  const inherited = Object.create({ m7: 5 }) as Record<string, unknown>
  inherited['m1'] = '1/0'
  assert.equal(agreed(withArrived(inherited)), true, 'an inherited key is not an entry')
  assert.equal(agreed(withArrived(Object.defineProperty({ m1: '1/0' }, 'm2', { value: 5, enumerable: false }))), true, 'nor is a hidden one')
  assert.equal(agreed(withArrived(Object.assign(Object.create(null) as object, { m1: '1/0' }))), true)
  assert.equal(agreed(withArrived(new Date(0))), false)
  assert.equal(agreed(withArrived(new Uint8Array(0))), false)
  assert.equal(agreed(withArrived([])), false)
  const hidden = Object.defineProperty({ location: 'http://h' }, 'more', { value: 'x', enumerable: false })
  for (let index = 1; index < PROPERTIES_MAX; index++) Object.defineProperty(hidden, `p${index}`, { value: 'x', enumerable: false })
  assert.equal(agreed(aBody([{ type: 'immigrate', id: 'm5', properties: hidden }])), false, 'hidden properties count toward the limit')
})

test('the limits hold at their bounds', () => {
  const leave = { type: 'leave' }
  assert.equal(agreed(aBody(Array.from({ length: MESSAGES_PER_BODY_MAX }, () => leave))), true)
  assert.equal(agreed(aBody(Array.from({ length: MESSAGES_PER_BODY_MAX + 1 }, () => leave))), false)
  const submitters = (length: number) => aBody([{ type: 'prepare', ballot: ballot3, from: 4, government: { position: 6, government: { ...aGovernment, submitters: { m1: new Array<number>(length).fill(1) } } } }])
  assert.equal(agreed(submitters(ENTRIES_PER_MESSAGE_MAX)), true)
  assert.equal(agreed(submitters(ENTRIES_PER_MESSAGE_MAX + 1)), false)
  assert.equal(agreed({ ...aBody([]), from: 'x'.repeat(ID_LENGTH_MAX) }), true)
  assert.equal(agreed({ ...aBody([]), from: 'x'.repeat(ID_LENGTH_MAX + 1) }), false)
  assert.equal(agreed({ ...aBody([]), from: astral.repeat(ID_LENGTH_MAX / 2) + 'x' }), false, 'UTF-16 units count')
  assert.equal(agreed({ ...aBody([]), islandName: '' }), false)
  assert.equal(agreed(aBody([{ type: 'immigrate', id: 'm5', properties: Object.fromEntries(Array.from({ length: PROPERTIES_MAX + 1 }, (_, index) => [`p${index}`, 'x'])) }])), false)
})
