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
 * ±Infinity, an invalid Date, a cycle, any object other than a plain object,
 * an array or a boxed primitive (a Map, Set, Promise, RegExp, Error, typed
 * array, WeakRef, Blob, ...) at any depth; a throwing `toJSON` or getter;
 * nesting deeper than the stack allows),
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
    if (error instanceof RangeError) {
      throw new ColleagueError('INVALID_VALUE', `the value is nested too deeply to turn into JSON: ${error.message}`, { cause: error })
    }
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
    case 'object': {
      if (value === null) {
        // A toJSON that gave null: an invalid Date's does (its text would be null, not a date). The
        // holder's own property, not read again through a getter; a Date of any realm.
        const own = Object.getOwnPropertyDescriptor(this, key)
        const original: unknown = own === undefined || 'value' in own ? own?.value : (this as Record<string, unknown>)[key]
        if (isInvalidDate(original)) throw invalid(`${where(key)} is an invalid Date`)
        return value
      }
      if (Array.isArray(value)) return value
      const tag = Object.prototype.toString.call(value)
      if (tag === '[object Object]' || tag === '[object String]' || tag === '[object Boolean]') return value
      if (tag === '[object Number]') {
        if (!Number.isFinite(Number(value))) throw invalid(`${where(key)} is ${String(value)}`)
        return value
      }
      throw invalid(`${where(key)} is ${describeObject(value, tag)}, which JSON would not carry (its text would be {} or lose what it holds)`)
    }
    default:
      return value
  }
}

/**
 * What an object JSON would not carry is: one whose `Object.prototype.toString`
 * tag is other than a plain object's, an array's or a boxed primitive's. A
 * Map or Set (and their weak kinds), a Promise, RegExp, Error, WeakRef, Blob,
 * generator or arguments object would become `{}` or an object of indexes; a
 * typed array, DataView or ArrayBuffer an object of indexes or `{}`. Class
 * instances are plain objects here (their own enumerable properties, or their
 * `toJSON`), unless their class sets `Symbol.toStringTag`.
 */
function isInvalidDate(value: unknown): boolean {
  return (
    typeof value === 'object' && value !== null && Object.prototype.toString.call(value) === '[object Date]' && Number.isNaN(Date.prototype.getTime.call(value))
  )
}

function describeObject(value: object, tag: string): string {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name
  return `a ${typeof name === 'string' && name !== '' ? name : tag.slice('[object '.length, -1)}`
}

function where(key: string): string {
  return key === '' ? 'the value' : `the value at ${JSON.stringify(key)}`
}

function invalid(message: string): ColleagueError {
  return new ColleagueError('INVALID_VALUE', message)
}
