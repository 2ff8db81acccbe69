// Values are JSON at the boundary. `enqueue` turns a value into its JSON text
// once, at the call; that text is what the log holds and the wire carries, and
// every member (the submitter and the leader included) applies the value
// parsed from it, so all of them apply identical values. A value JSON cannot
// carry exactly is refused at the call, before anything is enqueued: nothing
// an application passes may reach a peer in a form the peer would refuse.

import type { LogEntry } from '../paxos/types.js'
import { ColleagueError } from './errors.js'

/** Default `valueBytesMax`: the UTF-8 size of one value's JSON text. */
export const VALUE_BYTES_MAX = 1024 * 1024

/**
 * On the wire a value's text is itself a JSON string, so each `"` and `\`
 * in it is escaped: one value may take up to twice its size in a body. A
 * quarter of the body limit leaves room for that and for the message around.
 */
export const BODY_PER_VALUE_MIN = 4

/** The default `valueBytesMax` under a given `bodyBytesMax`. */
export function defaultValueBytesMax(bodyBytesMax: number): number {
  return Math.min(VALUE_BYTES_MAX, Math.floor(bodyBytesMax / BODY_PER_VALUE_MIN))
}

/**
 * The JSON text of `value`, or a `ColleagueError`: `INVALID_VALUE` for what
 * JSON cannot carry exactly (undefined, a function, a symbol, a bigint, NaN,
 * ±Infinity, a cycle, a Map, Set, Promise, RegExp, Error or typed array, at
 * any depth; a throwing `toJSON` or getter),
 * `VALUE_TOO_LARGE` for a text over `bytesMax` bytes. As with JSON anywhere,
 * `toJSON` applies (a `Date` becomes its ISO string) and an object property
 * whose value is `undefined` is left out (`{ a: undefined }` is `{}`): the
 * text, not the object, is what every member applies.
 */
export function encodeValue(value: unknown, bytesMax: number): string {
  let text: string | undefined
  try {
    // A string, boolean or finite number is carried exactly: no replacer to call back into.
    text = isExactPrimitive(value) ? JSON.stringify(value) : JSON.stringify(value, refuseInexact)
  } catch (error) {
    if (error instanceof ColleagueError) throw error
    // A cycle, or a toJSON or getter that threw.
    throw new ColleagueError('INVALID_VALUE', `the value is not JSON: ${(error as Error).message}`, { cause: error })
  }
  if (text === undefined) throw invalid('the value has no JSON text')
  // UTF-8 takes at least one byte per UTF-16 unit: count exactly only when it can matter.
  if (text.length * 3 > bytesMax && Buffer.byteLength(text) > bytesMax) {
    throw new ColleagueError('VALUE_TOO_LARGE', `the value's JSON is ${Buffer.byteLength(text)} bytes, over valueBytesMax ${bytesMax}`)
  }
  return text
}

function isExactPrimitive(value: unknown): boolean {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))
}

/** A government's wire size by identity: it is bounded again at each round and catch-up that carries it. */
const governmentBytes = new WeakMap<object, number>()

/** What an entry takes in a body around its value or government: position, ballot (an id of up to 256 units), keys. */
const ENTRY_BYTES_AROUND = 1024

/**
 * At most the bytes a log entry takes in a kibitz body: the leader bounds
 * its rounds, catch-ups and probe answers by it (`entryBytes`), so that no
 * message outgrows a body. A value's text is a JSON string there: each `"`
 * and `\` escaped to two bytes, each other UTF-16 unit at most three bytes of
 * UTF-8, and a JSON text holds no raw control character to escape to more.
 */
export function entryWireBytes(entry: LogEntry): number {
  switch (entry.type) {
    case 'value':
      return 3 * (String(entry.submission.value).length + entry.submission.from.length) + ENTRY_BYTES_AROUND
    case 'government': {
      let bytes = governmentBytes.get(entry.government)
      if (bytes === undefined) {
        bytes = 3 * JSON.stringify(entry.government).length + ENTRY_BYTES_AROUND
        governmentBytes.set(entry.government, bytes)
      }
      return bytes
    }
    case 'noop':
      return ENTRY_BYTES_AROUND
  }
}

/** The value a member applies: parsed from the text the log holds. */
export function decodeValue(text: unknown): unknown {
  if (typeof text !== 'string') throw new ColleagueError('INTERNAL', `a log value is ${typeof text}, not JSON text`)
  return JSON.parse(text) as unknown
}

/** `JSON.stringify` replacer: refuses every value the text would not carry exactly. */
function refuseInexact(this: unknown, key: string, value: unknown): unknown {
  switch (typeof value) {
    case 'function':
    case 'symbol':
    case 'bigint':
      throw invalid(`${where(key)} is a ${typeof value}`)
    case 'number':
      if (!Number.isFinite(value)) throw invalid(`${where(key)} is ${String(value)}`)
      return value
    case 'undefined':
      // JSON leaves an undefined property out; anywhere else it would become null or nothing.
      if (key === '' || Array.isArray(this)) throw invalid(`${where(key)} is undefined`)
      return value
    case 'object':
      if (value instanceof Number && !Number.isFinite(value.valueOf())) throw invalid(`${where(key)} is ${String(value)}`)
      if (value !== null && isLossy(value)) throw invalid(`${where(key)} is a ${value.constructor.name}, whose JSON text would be {} or an object of indexes`)
      return value
    default:
      return value
  }
}

/**
 * Objects whose JSON text drops what they hold: a Map or Set (and their weak
 * kinds) become `{}`, as do a Promise, a RegExp and an Error; a typed array
 * or DataView an object of indexes. A value holding one would reach every
 * member as something else.
 */
function isLossy(value: object): boolean {
  return (
    value instanceof Map ||
    value instanceof Set ||
    value instanceof WeakMap ||
    value instanceof WeakSet ||
    value instanceof Promise ||
    value instanceof RegExp ||
    value instanceof Error ||
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer
  )
}

function where(key: string): string {
  return key === '' ? 'the value' : `the value at ${JSON.stringify(key)}`
}

function invalid(message: string): ColleagueError {
  return new ColleagueError('INVALID_VALUE', message)
}
