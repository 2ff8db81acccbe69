// Operating errors of a colleague. Callers match on `code`; the HTTP layer
// turns a code into a status through the one table below, so a code means the
// same thing whether it comes back from `colleague.request()` or over HTTP.

/** Every error code a colleague can produce, mapped to the HTTP status that carries it. */
export const ERROR_STATUS = Object.freeze({
  /** node:http could not read the request as HTTP/1.1 (its parser's code in the message), or one has no Host header; the connection is closed. */
  MALFORMED_REQUEST: 400,
  /** The request body is not UTF-8 JSON. */
  INVALID_JSON: 400,
  /** The request body does not match the schema for its request type. */
  INVALID_BODY: 400,
  /** The colleague's constructor options are invalid, or a call's (`enqueue`, `barrier`, `promoted`, `leave`: only `signal`, an AbortSignal). */
  INVALID_OPTIONS: 400,
  /** `enqueue(value)`: JSON would not carry the value exactly (undefined, a function, a symbol, a bigint, NaN, ±Infinity, an invalid Date, a cycle, a Map or other non-plain object, nesting too deep). */
  INVALID_VALUE: 400,
  /** A shared secret is configured and the request is unsigned, wrongly signed, stale or replayed. */
  UNAUTHORIZED: 401,
  /** `request()` type or HTTP route that does not exist. */
  UNKNOWN_REQUEST: 404,
  /** An out-of-band request names nothing this colleague can serve (no handler, no snapshot for that arrival). */
  OUT_OF_BAND_NOT_FOUND: 404,
  /** The route exists but not with this HTTP method. */
  METHOD_NOT_ALLOWED: 405,
  /** The request was not whole (headers and body) within the server's bound, 30 s; the connection is closed. */
  REQUEST_TIMEOUT: 408,
  /** The body is addressed to another island (`islandName` or `islandId` differ). */
  WRONG_ISLAND: 409,
  /** A peer body addressed (`to`) to another colleague: a signed request replayed to the wrong member. */
  MISADDRESSED: 409,
  /** This colleague is not in an island yet (neither bootstrapped nor joined). */
  NOT_JOINED: 409,
  /** `bootstrap()`, `join()` or `listen()` on a colleague that already did it, or `outOfBand()` on one already naturalized. */
  ALREADY_JOINED: 409,
  /** `join(url)`: a living member already holds this colleagueId, at another location. */
  ID_IN_USE: 409,
  /** `join(url)`: the island exiled this colleagueId (admitted, then exiled: no member could reach it at its location, or it was exiled before); it is not admitted again. */
  ID_EXILED: 410,
  /** The colleague has no `location` to advertise: call `listen()` first or pass `location`. */
  NO_LOCATION: 409,
  /** The storage directory belongs to another island or another colleague. */
  STORAGE_MISMATCH: 409,
  /** The storage directory is in use by another living process, or another colleague of this one; the colleague refuses to start. */
  STORAGE_LOCKED: 409,
  /** Durable mode: the island knows this member at another location than the one it would now advertise; it would not be reached. */
  LOCATION_CHANGED: 409,
  /** The legislator refused: this member is not (or no longer) in the government. */
  NOT_A_MEMBER: 409,
  /** The id was exiled from the island and may never take part again. */
  EXILED: 410,
  /** The body exceeds `bodyBytesMax`. */
  BODY_TOO_LARGE: 413,
  /** `enqueue(value)`: the value's JSON text exceeds `valueBytesMax`. */
  VALUE_TOO_LARGE: 413,
  /** The request's `Expect` header asks for something other than `100-continue`; the connection is closed. */
  EXPECTATION_FAILED: 417,
  /** The request headers exceed node:http's bound (16 KiB by default); the connection is closed. */
  HEADERS_TOO_LARGE: 431,
  /** The application callback threw or rejected. */
  APPLICATION_FAILED: 500,
  /** A broken invariant inside the colleague (a bug; please report it). */
  INTERNAL: 500,
  /** `join()`: the member asked refused the immigration (its error is the `cause`). */
  JOIN_REFUSED: 502,
  /** `join()`: the member asked could not be reached or answered garbage. */
  JOIN_FAILED: 502,
  /** A file in the storage directory is damaged other than by a write torn at a crash; the colleague refuses to start. */
  STORAGE_CORRUPT: 500,
  /** Writing, syncing or reading the storage directory failed; the colleague crashed. */
  STORAGE_FAILED: 500,
  /** `listen()`: the server could not listen (its error is the cause); nothing listens, and `listen()` may be called again. */
  LISTEN_FAILED: 500,
  /** The out-of-band request to the leader failed; the colleague crashed. */
  OUT_OF_BAND_FAILED: 502,
  /** A peer has no known `location`, or sending to it failed. */
  PEER_UNREACHABLE: 502,
  /** The island has `MEMBERS_MAX` (64) members already. */
  ISLAND_FULL: 503,
  /** The bodies being read at once, all connections together, would exceed `bodiesBytesMax`; retry later. */
  BODIES_BUSY: 503,
  /** The legislator's queue of local submissions is full; retry later. */
  QUEUE_FULL: 503,
  /** The out-of-band request came before this colleague applied the newcomer's arrival, and it did not in time. */
  ARRIVAL_NOT_APPLIED: 503,
  /** GET /status/events: this colleague already serves its maximum number of status streams. */
  TOO_MANY_STREAMS: 503,
  /** The colleague was shut down. */
  SHUT_DOWN: 503,
  /** The colleague crashed (its `cause` says why); it never recovers: start a new one. */
  CRASHED: 503,
  /** `join()` or `bootstrap()` did not complete within `joinTimeoutMs`; the colleague crashed. */
  JOIN_TIMEOUT: 504,
} as const satisfies Record<string, number>)

export type ColleagueErrorCode = keyof typeof ERROR_STATUS

export const ERROR_CODES: readonly ColleagueErrorCode[] = Object.freeze(Object.keys(ERROR_STATUS) as ColleagueErrorCode[])

export class ColleagueError extends Error {
  override readonly name = 'ColleagueError'
  readonly code: ColleagueErrorCode

  constructor(code: ColleagueErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }

  get status(): number {
    return ERROR_STATUS[this.code]
  }

  /** The JSON body the HTTP layer sends for this error. */
  toBody(): { error: { code: ColleagueErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } }
  }
}

export function isColleagueError(error: unknown): error is ColleagueError {
  return error instanceof ColleagueError
}

export function isErrorCode(code: unknown): code is ColleagueErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_STATUS, code)
}
