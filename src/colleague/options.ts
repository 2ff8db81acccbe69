// What an application passes to `new Colleague(...)`, and the defaults.

import type { Clock } from '../kibitzer/clock.js'
import type { Government } from '../paxos/types.js'
import type { StorageOptions } from './durability.js'
import type { JsonValue } from './json.js'
import type { PinoLikeLogger } from './logger.js'
import type { PeerTransport } from './peer-client.js'
import { LOCATION_LENGTH_MAX } from './schemas.js'

/** An applied log entry, as the application sees it. */
export interface AppliedEntry<T extends JsonValue = JsonValue> {
  readonly position: number
  readonly promise: string
  /** Parsed from the JSON text enqueued: the same value on every member. */
  readonly value: T
  /** The colleagueId that enqueued it. */
  readonly from: string
}

export interface JoinContext {
  /** Promise of the government that admitted this colleague. */
  readonly arrival: string
  /** Asks the arrival government's leader; a failure crashes the colleague. */
  outOfBand(name: string, post: unknown): Promise<unknown>
}

/**
 * The application's callbacks. `T` is the type of the values it enqueues and
 * applies, `S` the type of its snapshot; both JSON.
 */
export interface Application<T extends JsonValue = JsonValue, S extends JsonValue = JsonValue> {
  /** Applies one entry; entries come strictly in position order, each once. */
  entry(entry: AppliedEntry<T>): void | Promise<void>
  /** The state a newcomer needs, taken right after applying its arrival. */
  snapshot?(): S | Promise<S>
  /** Installs a snapshot on a newcomer, before any entry after its arrival. */
  restore?(state: S): void | Promise<void>
  /** Replaces the default immigration (fetch `snapshot`, then `restore`). */
  join?(context: JoinContext): Promise<void>
  /** Serves a newcomer's out-of-band request other than `snapshot`. */
  outOfBand?(name: string, post: unknown, context: { readonly from: string }): unknown | Promise<unknown>
  /** Called for every government entry applied, in log order. */
  government?(government: Government): void
}

export interface ColleagueOptions<T extends JsonValue = JsonValue, S extends JsonValue = JsonValue> {
  islandName: string
  /** Unique among living members; default a random UUID. */
  colleagueId?: string
  /** Interface for `listen()`; default 127.0.0.1. */
  host?: string
  /** Port for `listen()`; default 0 (any free port). */
  port?: number
  /** The URL peers use; default the address `listen()` bound. */
  location?: string
  parliamentSize?: number
  /** Leader heartbeat interval; default 250. */
  pingMs?: number
  /** Silence after which a peer is suspected; default 1000. */
  timeoutMs?: number
  /**
   * A leader needs only its majority's acknowledgements to commit, so it
   * sends to its minority and constituents at most once per this many
   * milliseconds, each send carrying all that is due: they lag by about
   * that much, and a member waits on it only when a majority follower is
   * down (until the leader exiles it). Fewer requests and wake-ups per
   * write; 0 sends to every member at once. Default 10, at most `pingMs`.
   */
  minorityPaceMs?: number
  /** When set, every peer request is signed with it and unsigned ones get 401. */
  secret?: string
  logger?: PinoLikeLogger
  application: Application<T, S>
  /** Seeded source in [0, 1) for the legislator; default a generator seeded from crypto. */
  random?: () => number
  /** Mints the island id at bootstrap, and the colleagueId when none is given; default `crypto.randomUUID`. */
  randomId?: () => string
  /** Time and timers (heartbeats, elections, join and out-of-band bounds); default the system clock. */
  clock?: Clock
  /**
   * Carries every request this colleague makes to a peer: kibitz batches
   * (which carry submission and immigration forwarding), join and
   * out-of-band. Default HTTP through undici, signed when `secret` is set.
   * Peers' requests come in through `colleague.request(type, body)`.
   */
  transport?: PeerTransport
  /** Bound on `join()`/`bootstrap()` until naturalized; default 30 000. */
  joinTimeoutMs?: number
  /** Bound on one out-of-band request; default 10 000. */
  outOfBandTimeoutMs?: number
  /** Largest inbound body, and largest answer to a kibitz or join request this colleague makes; default 8 MiB. */
  bodyBytesMax?: number
  /**
   * Bytes of request bodies this colleague's routes hold while they are
   * read, all connections together; a body that would go past it is refused
   * with 503 BODIES_BUSY and drained. Default four times `bodyBytesMax`; at
   * least `bodyBytesMax`.
   */
  bodiesBytesMax?: number
  /** Largest JSON text of one enqueued value, in UTF-8 bytes; default 1 MiB, at most a quarter of `bodyBytesMax`. */
  valueBytesMax?: number
  /** Replay window for signed requests; default 30 000. */
  signatureWindowMs?: number
  /**
   * Durable mode: a write-ahead log and snapshots in `directory`, so that a
   * restart resumes this member (same id, promise, accepted entries, state).
   * Needs `application.snapshot` and `application.restore`, and a location
   * that stays the same across restarts.
   */
  storage?: StorageOptions
}

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  pingMs: 250,
  timeoutMs: 1000,
  minorityPaceMs: 10,
  joinTimeoutMs: 30_000,
  outOfBandTimeoutMs: 10_000,
  bodyBytesMax: 8 * 1024 * 1024,
} as const

/** A `location` begins `http://` or `https://`, in lower case, and is at most `LOCATION_LENGTH_MAX` characters: what peers check it against when it joins. */
export function isHttpLocation(text: string): boolean {
  return text.length <= LOCATION_LENGTH_MAX && /^https?:\/\//.test(text)
}
