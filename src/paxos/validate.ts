// Structural checks on what arrives from other members. The transport
// validates bodies with schemas; the core still refuses to trust shapes, so a
// malformed message is ignored instead of throwing somewhere deep inside.

import { isBallot } from './ballot.js'
import { MEMBERS_MAX, membersOf, parliamentOf } from './government.js'
import { quorumSize } from './quorum.js'
import type { Accepted, Government, LogEntry, Message, PositionRange, Submission } from './types.js'

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null

const isPosition = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0

const isIds = (value: unknown): value is readonly string[] =>
  Array.isArray(value) && value.every((id) => typeof id === 'string')

const isRecordOf = (value: unknown, check: (item: unknown) => boolean): boolean =>
  isObject(value) && !Array.isArray(value) && Object.values(value).every(check)

export function isSubmission(value: unknown): value is Submission {
  if (!isObject(value) || typeof value['from'] !== 'string' || !Number.isSafeInteger(value['seq']) || (value['seq'] as number) < 1) return false
  const floor = value['floor']
  return floor === undefined || (Number.isSafeInteger(floor) && (floor as number) >= 0 && (floor as number) < (value['seq'] as number))
}

export function isGovernment(value: unknown): value is Government {
  if (!isObject(value)) return false
  const government = value
  return hasFields(government) && isShaped(government as unknown as Government)
}

/** A parliament of odd size, led, every voter naturalized, nobody listed twice, at most MEMBERS_MAX members. */
function isShaped(government: Government): boolean {
  const parliament = parliamentOf(government)
  const members = membersOf(government)
  return (
    parliament.length % 2 === 1 &&
    government.majority.length === quorumSize(parliament.length) &&
    members.length <= MEMBERS_MAX &&
    new Set(members).size === members.length &&
    parliament.every((id) => government.naturalized.includes(id))
  )
}

function hasFields(government: Record<string, unknown>): boolean {
  return (
    typeof government['islandId'] === 'string' &&
    Number.isSafeInteger(government['number']) &&
    typeof government['promise'] === 'string' &&
    isIds(government['majority']) &&
    isIds(government['minority']) &&
    isIds(government['constituents']) &&
    isIds(government['naturalized']) &&
    isIds(government['exiled']) &&
    isRecordOf(government['properties'], isObject) &&
    isRecordOf(government['arrived'], (item) => typeof item === 'string') &&
    isRecordOf(government['submitters'], (item) => Array.isArray(item) && item.every(Number.isSafeInteger))
  )
}

export function isLogEntry(value: unknown): value is LogEntry {
  if (!isObject(value)) return false
  switch (value['type']) {
    case 'noop':
      return true
    case 'value':
      return isSubmission(value['submission'])
    case 'government':
      return isGovernment(value['government'])
    default:
      return false
  }
}

export function isAccepted(value: unknown): value is Accepted {
  return isObject(value) && isPosition(value['position']) && isBallot(value['ballot']) && isLogEntry(value['entry'])
}

function isPositionedGovernment(value: unknown): boolean {
  return isObject(value) && isPosition(value['position']) && isGovernment(value['government'])
}

export function isRange(value: unknown): value is PositionRange {
  return isObject(value) && isPosition(value['from']) && isPosition(value['to']) && (value['from'] as number) <= (value['to'] as number)
}

const every = (value: unknown, check: (item: unknown) => boolean): boolean => Array.isArray(value) && value.every(check)

/** Whether `value` is a well-formed message; one malformed part makes the whole message ignored. */
export function isMessage(value: unknown): value is Message {
  if (!isObject(value)) return false
  const message = value
  switch (message['type']) {
    case 'prepare':
      return (
        isBallot(message['ballot']) &&
        Number.isSafeInteger(message['from']) &&
        (message['government'] === undefined || isPositionedGovernment(message['government']))
      )
    case 'promise':
      return (
        isBallot(message['ballot']) &&
        every(message['accepted'], isAccepted) &&
        Number.isSafeInteger(message['commit']) &&
        Number.isSafeInteger(message['from']) &&
        (message['government'] === undefined || isPositionedGovernment(message['government']))
      )
    case 'accept':
      return (
        isBallot(message['ballot']) &&
        every(message['entries'], isAccepted) &&
        every(message['chosen'], isAccepted) &&
        Number.isSafeInteger(message['commit']) &&
        Number.isSafeInteger(message['trim'])
      )
    case 'accepted':
      return isBallot(message['ballot']) && every(message['ranges'], isRange) && Number.isSafeInteger(message['commit'])
    case 'reject':
      return (
        isBallot(message['ballot']) &&
        isBallot(message['promised']) &&
        Number.isSafeInteger(message['commit']) &&
        typeof message['reason'] === 'string'
      )
    case 'forward':
      return (
        every(message['submissions'], isSubmission) &&
        (message['commit'] === undefined || Number.isSafeInteger(message['commit'])) &&
        (message['chosen'] === undefined || every(message['chosen'], isAccepted))
      )
    case 'immigrate':
      return typeof message['id'] === 'string' && isObject(message['properties']) && !Array.isArray(message['properties'])
    case 'naturalize':
      return typeof message['id'] === 'string'
    case 'leave':
      return true
    default:
      return false
  }
}
