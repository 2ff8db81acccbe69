// The schema `KibitzBody` in schemas.ts stays the specification (types, error messages); this is its check by hand, and test/kibitz-check.test.ts holds the two equal.
//
// Every peer request and every answer to one passes this check, so it is
// written for speed: plain loops, no closures, no regular expressions, nothing
// allocated but to count a member's properties (only governments and
// immigrate messages carry them).
//
// Each function checks one part of the schema and is named after it. An
// object is anything `typeof 'object'` but null or an array; a record (keyed
// by member id or property name) is such an object that is not a Date or a
// Uint8Array either, every own enumerable key of which must fit (for-in with
// Object.hasOwn: the keys Object.entries gives, without an array of them); an
// optional field is checked only when it is not undefined; fields beyond the
// schema's are allowed.

import { EXILED_REMEMBERED_MAX, MEMBERS_MAX, RESERVED_IDS } from '../paxos/government.js'
import type { KibitzBody } from './schemas.js'
import {
  ENTRIES_PER_MESSAGE_MAX,
  ID_LENGTH_MAX,
  LOCATION_LENGTH_MAX,
  MESSAGES_PER_BODY_MAX,
  NAME_LENGTH_MAX,
  PROPERTIES_MAX,
} from './wire-limits.js'

type Fields = { readonly [key: string]: unknown }
type WireMessage = KibitzBody['messages'][number]
type LogEntry = Extract<WireMessage, { type: 'accept' }>['entries'][number]['entry']
type RejectReason = Extract<WireMessage, { type: 'reject' }>['reason']

export function isKibitzBody(value: unknown): value is KibitzBody {
  return (
    isObject(value) &&
    isName(value['islandName']) &&
    isId(value['islandId']) &&
    isId(value['from']) &&
    isId(value['to']) &&
    isMessages(value['messages'])
  )
}

function isMessages(value: unknown): boolean {
  if (!Array.isArray(value) || value.length > MESSAGES_PER_BODY_MAX) return false
  for (let i = 0; i < value.length; i++) if (!isMessage(value[i])) return false
  return true
}

function isMessage(value: unknown): boolean {
  if (!isObject(value)) return false
  const type = value['type'] as WireMessage['type']
  switch (type) {
    case 'prepare':
      return isPrepare(value)
    case 'promise':
      return isPromise(value)
    case 'accept':
      return isAccept(value)
    case 'accepted':
      return isAcceptedMessage(value)
    case 'reject':
      return isReject(value)
    case 'forward':
      return isForward(value)
    case 'immigrate':
      return isId(value['id']) && isWireProperties(value['properties'])
    case 'naturalize':
      return isId(value['id'])
    case 'leave':
      return true
    default:
      return none(type)
  }
}

function isPrepare(message: Fields): boolean {
  return isBallot(message['ballot']) && isPosition(message['from']) && isOptionalPositionedGovernment(message['government'])
}

function isPromise(message: Fields): boolean {
  return (
    isBallot(message['ballot']) &&
    isAcceptedList(message['accepted']) &&
    isPosition(message['commit']) &&
    isPosition(message['from']) &&
    isOptionalPositionedGovernment(message['government'])
  )
}

function isAccept(message: Fields): boolean {
  return (
    isBallot(message['ballot']) &&
    isAcceptedList(message['entries']) &&
    isAcceptedList(message['chosen']) &&
    isPosition(message['commit']) &&
    isPosition(message['trim'])
  )
}

/** Submissions; a probe's commit point, or the chosen entries that answer a probe. */
function isForward(message: Fields): boolean {
  const commit = message['commit']
  const chosen = message['chosen']
  return isSubmissions(message['submissions']) && (commit === undefined || isPosition(commit)) && (chosen === undefined || isAcceptedList(chosen))
}

function isAcceptedMessage(message: Fields): boolean {
  return isBallot(message['ballot']) && isPositionRanges(message['ranges']) && isPosition(message['commit'])
}

function isReject(message: Fields): boolean {
  return isBallot(message['ballot']) && isBallot(message['promised']) && isPosition(message['commit']) && isRejectReason(message['reason'])
}

function isRejectReason(value: unknown): boolean {
  const reason = value as RejectReason
  switch (reason) {
    case 'ballot':
    case 'leader-alive':
    case 'not-member':
    case 'exiled':
    case 'trimmed':
      return true
    default:
      return none(reason)
  }
}

/** The `government` of a prepare or a promise: absent, or a government and its position. */
function isOptionalPositionedGovernment(value: unknown): boolean {
  return value === undefined || (isObject(value) && isCount(value['position']) && isGovernment(value['government']))
}

function isPositionRanges(value: unknown): boolean {
  if (!Array.isArray(value) || value.length > ENTRIES_PER_MESSAGE_MAX) return false
  for (let i = 0; i < value.length; i++) if (!isPositionRange(value[i])) return false
  return true
}

function isPositionRange(value: unknown): boolean {
  return isObject(value) && isCount(value['from']) && isCount(value['to'])
}

function isAcceptedList(value: unknown): boolean {
  if (!Array.isArray(value) || value.length > ENTRIES_PER_MESSAGE_MAX) return false
  for (let i = 0; i < value.length; i++) if (!isAccepted(value[i])) return false
  return true
}

function isAccepted(value: unknown): boolean {
  return isObject(value) && isCount(value['position']) && isBallot(value['ballot']) && isLogEntry(value['entry'])
}

function isLogEntry(value: unknown): boolean {
  if (!isObject(value)) return false
  const type = value['type'] as LogEntry['type']
  switch (type) {
    case 'value':
      return isSubmission(value['submission'])
    case 'government':
      return isGovernment(value['government'])
    case 'noop':
      return true
    default:
      return none(type)
  }
}

function isSubmissions(value: unknown): boolean {
  if (!Array.isArray(value) || value.length > ENTRIES_PER_MESSAGE_MAX) return false
  for (let i = 0; i < value.length; i++) if (!isSubmission(value[i])) return false
  return true
}

/** A value is JSON text on the wire: any string. */
function isSubmission(value: unknown): boolean {
  if (!isObject(value)) return false
  const floor = value['floor']
  return isId(value['from']) && isCount(value['seq']) && typeof value['value'] === 'string' && (floor === undefined || isCount(floor))
}

function isGovernment(value: unknown): boolean {
  return (
    isObject(value) &&
    isId(value['islandId']) &&
    isCount(value['number']) &&
    isLabel(value['promise']) &&
    isIds(value['majority'], MEMBERS_MAX) &&
    isIds(value['minority'], MEMBERS_MAX) &&
    isIds(value['constituents'], MEMBERS_MAX) &&
    isIds(value['naturalized'], MEMBERS_MAX) &&
    isIds(value['exiled'], EXILED_REMEMBERED_MAX) &&
    isById(value['properties'], isWireProperties) &&
    isById(value['arrived'], isLabel) &&
    isById(value['submitters'], isSubmitterRecord)
  )
}

/** A record keyed by member id, each of whose values passes `isEntry` (a governments' properties, arrivals, submitters). */
function isById(value: unknown, isEntry: (entry: unknown) => boolean): boolean {
  if (!isRecord(value)) return false
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    if (!isId(key) || !isEntry(value[key])) return false
  }
  return true
}

/** The sequence numbers a submitter's record holds: any integers. */
function isSubmitterRecord(value: unknown): boolean {
  if (!Array.isArray(value) || value.length > ENTRIES_PER_MESSAGE_MAX) return false
  for (let i = 0; i < value.length; i++) if (!Number.isInteger(value[i])) return false
  return true
}

/** At most `PROPERTIES_MAX` own properties (enumerable or not, as the schema counts them), each a short name to a location-sized string. */
function isWireProperties(value: unknown): boolean {
  if (!isRecord(value) || Object.getOwnPropertyNames(value).length > PROPERTIES_MAX) return false
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    if (key.length < 1 || key.length > NAME_LENGTH_MAX) return false
    const property = value[key]
    if (typeof property !== 'string' || property.length > LOCATION_LENGTH_MAX) return false
  }
  return true
}

function isBallot(value: unknown): boolean {
  if (!isObject(value)) return false
  const id = value['id']
  return isCount(value['round']) && typeof id === 'string' && id.length <= ID_LENGTH_MAX
}

function isIds(value: unknown, max: number): boolean {
  if (!Array.isArray(value) || value.length > max) return false
  for (let i = 0; i < value.length; i++) if (!isId(value[i])) return false
  return true
}

/** A member's (or an island's) id: 1 to `ID_LENGTH_MAX` UTF-16 units, not one of `RESERVED_IDS`. */
function isId(value: unknown): boolean {
  return typeof value === 'string' && value.length >= 1 && value.length <= ID_LENGTH_MAX && !isReserved(value)
}

/** The lengths of the reserved ids, from the shortest to the longest: an id of any other length is not looked up. */
const RESERVED_LENGTH_MIN = Math.min(...Array.from(RESERVED_IDS, (id) => id.length))
const RESERVED_LENGTH_MAX = Math.max(...Array.from(RESERVED_IDS, (id) => id.length))

function isReserved(id: string): boolean {
  return id.length >= RESERVED_LENGTH_MIN && id.length <= RESERVED_LENGTH_MAX && RESERVED_IDS.has(id)
}

function isName(value: unknown): boolean {
  return typeof value === 'string' && value.length >= 1 && value.length <= NAME_LENGTH_MAX
}

function isLabel(value: unknown): boolean {
  return typeof value === 'string' && value.length <= NAME_LENGTH_MAX
}

function isCount(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= 0
}

function isPosition(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= -1
}

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isRecord(value: unknown): value is Fields {
  return isObject(value) && !(value instanceof Date) && !(value instanceof Uint8Array)
}

/** The default of a switch over every variant the schema names: anything else is invalid, and a variant added to the schema but not here fails the build. */
function none(variant: never): false {
  void variant
  return false
}
