// paxos-colleague: become a colleague in an island that agrees, through
// Multi-Paxos, on one totally ordered log.

export { Colleague, SNAPSHOT_REQUEST } from './colleague/colleague.js'
export type { ColleagueEvents, Enqueued, WaitOptions } from './colleague/colleague.js'
export type { LeaderChange, MemberChange, MemberExiled, QuorumChange } from './colleague/observe.js'
export type { PeerRoute, PeerTransport, PostAnswer } from './colleague/peer-client.js'
export { ColleagueError, ERROR_CODES, ERROR_STATUS, isColleagueError } from './colleague/errors.js'
export type { ColleagueErrorCode } from './colleague/errors.js'
export type { Application, AppliedEntry, ColleagueOptions, JoinContext } from './colleague/options.js'
export type { JsonPrimitive, JsonValue } from './colleague/json.js'
export type { ColleagueState, Health } from './colleague/health.js'
export type { StorageOptions } from './colleague/durability.js'
export type { StorageFileSystem, AppendFile } from './storage/file-system.js'
export type { RequestListener, RequestType } from './colleague/http-handler.js'
export { REQUEST_TYPES } from './colleague/http-handler.js'
export type { LogFn, PinoLikeLogger } from './colleague/logger.js'
export { SIGNATURE_HEADER, TIMESTAMP_HEADER } from './colleague/signature.js'
export { Kibitzer } from './kibitzer/kibitzer.js'
export type { Driven, KibitzerOptions, KibitzerStats } from './kibitzer/kibitzer.js'
export { systemClock } from './kibitzer/clock.js'
export type { Clock, TimerHandle } from './kibitzer/clock.js'
export type { Transport } from './kibitzer/transport.js'
export { tickSchedule } from './kibitzer/tick-schedule.js'
export type { TickSchedule } from './kibitzer/tick-schedule.js'
export type {
  Ballot,
  Committed,
  Envelope,
  Government,
  LogEntry,
  Message,
  Properties,
  Ready,
  Submission,
} from './paxos/types.js'
