// Schemas of every inbound body, compiled once into validators. The message
// schemas mirror src/paxos/types.ts; the type assertions at the bottom fail
// the build if the two drift apart. A kibitz body, on every exchange between
// peers, is checked by hand (kibitz-check.ts) to the letter of its schema here.

import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import type { ValueErrorIterator } from '@sinclair/typebox/errors'
import { EXILED_REMEMBERED_MAX, MEMBERS_MAX, RESERVED_IDS } from '../paxos/government.js'
import type { Message } from '../paxos/types.js'
import { isKibitzBody } from './kibitz-check.js'
import {
  ENTRIES_PER_MESSAGE_MAX,
  ID_LENGTH_MAX,
  LOCATION_LENGTH_MAX,
  MESSAGES_PER_BODY_MAX,
  NAME_LENGTH_MAX,
  PROPERTIES_MAX,
} from './wire-limits.js'

export { ENTRIES_PER_MESSAGE_MAX, ID_LENGTH_MAX, LOCATION_LENGTH_MAX, MESSAGES_PER_BODY_MAX, NAME_LENGTH_MAX, PROPERTIES_MAX }

/** Any string of 1 to `ID_LENGTH_MAX` characters but the reserved ids (see `RESERVED_IDS`). */
const ID_PATTERN = `^(?!(?:${[...RESERVED_IDS].join('|')})$)[\\s\\S]{1,${ID_LENGTH_MAX}}$`
const Id = Type.String({ minLength: 1, maxLength: ID_LENGTH_MAX, pattern: ID_PATTERN })
/** A record keyed by member ids: no other key, so that a reserved one cannot slip in as a key. */
const ById = <T extends TSchema>(value: T) => Type.Record(Type.String({ pattern: ID_PATTERN }), value, { additionalProperties: false })
const Name = Type.String({ minLength: 1, maxLength: NAME_LENGTH_MAX })
const Label = Type.String({ maxLength: NAME_LENGTH_MAX })
const Count = Type.Integer({ minimum: 0 })
const Position = Type.Integer({ minimum: -1 })
const Members = Type.Array(Id, { maxItems: MEMBERS_MAX })

const Ballot = Type.Object({ round: Count, id: Type.String({ maxLength: ID_LENGTH_MAX }) })

/** The core takes any properties of a member. */
const AnyProperties = Type.Record(Type.String(), Type.Unknown())

/** What a member tells the others about itself on the wire (see `PROPERTIES_MAX`). */
const WireProperties = Type.Record(Type.String({ pattern: `^[\\s\\S]{1,${NAME_LENGTH_MAX}}$` }), Type.String({ maxLength: LOCATION_LENGTH_MAX }), {
  maxProperties: PROPERTIES_MAX,
  additionalProperties: false,
})

const governmentSchema = <P extends TSchema>(Properties: P) => Type.Object({
  islandId: Id,
  number: Count,
  promise: Label,
  majority: Members,
  minority: Members,
  constituents: Members,
  naturalized: Members,
  exiled: Type.Array(Id, { maxItems: EXILED_REMEMBERED_MAX }),
  properties: ById(Properties),
  arrived: ById(Label),
  submitters: ById(Type.Array(Type.Integer(), { maxItems: ENTRIES_PER_MESSAGE_MAX })),
})

const PositionRange = Type.Object({ from: Count, to: Count })

/**
 * The legislator's messages with values and member properties of the given
 * schemas. The core takes any of either; a colleague puts the JSON text of
 * each value in the log (see value-text.ts), so its peers accept only text
 * there, and only bounded properties.
 */
function messageSchema<V extends TSchema, P extends TSchema>(value: V, Properties: P) {
  const Government = governmentSchema(Properties)
  const Submission = Type.Object({ from: Id, seq: Count, value, floor: Type.Optional(Count) })
  const LogEntry = Type.Union([
    Type.Object({ type: Type.Literal('government'), government: Government }),
    Type.Object({ type: Type.Literal('value'), submission: Submission }),
    Type.Object({ type: Type.Literal('noop') }),
  ])
  const Accepted = Type.Object({ position: Count, ballot: Ballot, entry: LogEntry })
  const AcceptedList = Type.Array(Accepted, { maxItems: ENTRIES_PER_MESSAGE_MAX })
  return Type.Union([
    Type.Object({
      type: Type.Literal('prepare'),
      ballot: Ballot,
      from: Position,
      government: Type.Optional(Type.Object({ position: Count, government: Government })),
    }),
    Type.Object({
      type: Type.Literal('promise'),
      ballot: Ballot,
      accepted: AcceptedList,
      commit: Position,
      from: Position,
      government: Type.Optional(Type.Object({ position: Count, government: Government })),
    }),
    Type.Object({
      type: Type.Literal('accept'),
      ballot: Ballot,
      entries: AcceptedList,
      chosen: AcceptedList,
      commit: Position,
      trim: Position,
    }),
    Type.Object({
      type: Type.Literal('accepted'),
      ballot: Ballot,
      ranges: Type.Array(PositionRange, { maxItems: ENTRIES_PER_MESSAGE_MAX }),
      commit: Position,
    }),
    Type.Object({
      type: Type.Literal('reject'),
      ballot: Ballot,
      promised: Ballot,
      commit: Position,
      reason: Type.Union([
        Type.Literal('ballot'),
        Type.Literal('leader-alive'),
        Type.Literal('not-member'),
        Type.Literal('exiled'),
        Type.Literal('trimmed'),
      ]),
    }),
    Type.Object({
      type: Type.Literal('forward'),
      submissions: Type.Array(Submission, { maxItems: ENTRIES_PER_MESSAGE_MAX }),
      commit: Type.Optional(Position),
      chosen: Type.Optional(AcceptedList),
    }),
    Type.Object({ type: Type.Literal('immigrate'), id: Id, properties: Properties }),
    Type.Object({ type: Type.Literal('naturalize'), id: Id }),
    Type.Object({ type: Type.Literal('leave') }),
  ])
}

/** The core's messages, values unconstrained: what the compile-time guard below compares with the core's types. */
export const MessageSchema = messageSchema(Type.Unknown(), AnyProperties)

/** The messages a colleague accepts from a peer: every value is JSON text. */
export const WireMessageSchema = messageSchema(Type.String(), WireProperties)

export const KibitzBody = Type.Object({
  islandName: Name,
  islandId: Id,
  from: Id,
  /** The receiver: signed with the body, so a captured request cannot be replayed to another member. */
  to: Id,
  messages: Type.Array(WireMessageSchema, { maxItems: MESSAGES_PER_BODY_MAX }),
})

const Location = Type.String({ minLength: 1, maxLength: LOCATION_LENGTH_MAX, pattern: '^https?://' })

export const JoinBody = Type.Object({
  islandName: Name,
  id: Id,
  properties: Type.Intersect([WireProperties, Type.Object({ location: Location })]),
})

/**
 * The receiver of a body that changes it (bootstrap, shutdown, out of band): signed with the body,
 * so that a captured request cannot be replayed to another member. A signed island requires it
 * (the colleague refuses a body without it there); without a secret it may be left out.
 */
const To = Type.Optional(Id)

export const BootstrapBody = Type.Object({ islandName: Name, to: To })

export const ShutdownBody = Type.Object({ islandName: Name, islandId: Type.Optional(Id), to: To })

export const OutOfBandBody = Type.Object({
  islandName: Name,
  islandId: Id,
  from: Id,
  /** The arrival leader asked (see `To`). */
  to: To,
  /** The asker's arrival promise: the server answers only once it applied that government. */
  arrival: Type.Union([Label, Type.Null()]),
  name: Name,
  post: Type.Unknown(),
})

export const OutOfBandAnswer = Type.Object({ result: Type.Unknown() })

export const JoinAnswer = Type.Object({ islandName: Name, islandId: Id })

export type KibitzBody = Static<typeof KibitzBody>
export type JoinBody = Static<typeof JoinBody>
export type BootstrapBody = Static<typeof BootstrapBody>
export type ShutdownBody = Static<typeof ShutdownBody>
export type OutOfBandBody = Static<typeof OutOfBandBody>
export type OutOfBandAnswer = Static<typeof OutOfBandAnswer>
export type JoinAnswer = Static<typeof JoinAnswer>

/** A check of one kind of body: whether a value is one, and what is wrong with it when it is not. */
export interface Validator<T> {
  Check(value: unknown): value is T
  Errors(value: unknown): ValueErrorIterator
}

function compile<T extends TSchema>(schema: T): TypeCheck<T> {
  return TypeCompiler.Compile(schema)
}

/** `check` in place of the compiled schema's check (it must accept the same values); the errors still come from the schema. */
function checkedBy<T extends TSchema>(schema: T, check: (value: unknown) => value is Static<T>): Validator<Static<T>> {
  const compiled = compile(schema)
  return { Check: check, Errors: (value) => compiled.Errors(value) }
}

export const validators = {
  /** Every peer request and answer passes here: checked by hand (kibitz-check.ts), without the compiled check's allocations and regular expressions. */
  kibitz: checkedBy(KibitzBody, isKibitzBody),
  join: compile(JoinBody),
  bootstrap: compile(BootstrapBody),
  shutdown: compile(ShutdownBody),
  oob: compile(OutOfBandBody),
  oobAnswer: compile(OutOfBandAnswer),
  joinAnswer: compile(JoinAnswer),
}

/** A short description of the first schema violation, for error messages. */
export function firstError(check: Pick<Validator<unknown>, 'Errors'>, value: unknown): string {
  const error = check.Errors(value).First()
  return error === undefined ? 'invalid body' : `${error.path || '/'}: ${error.message}`
}

// Compile-time guard: the schema accepts exactly the legislator's messages.
type DeepReadonly<T> = T extends (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T
type MessageFromSchema = Static<typeof MessageSchema>
const schemaToCore = (message: MessageFromSchema): Message => message
const coreToSchema = (message: Message): DeepReadonly<MessageFromSchema> => message
void schemaToCore
void coreToSchema
