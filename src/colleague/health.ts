import type { KibitzerStats } from '../kibitzer/kibitzer.js'
import type { Government } from '../paxos/types.js'

export type ColleagueState = 'idle' | 'joining' | 'member' | 'shut-down' | 'crashed'

/** What `colleague.health()` and `GET /health` report. */
export interface Health {
  readonly startedAt: string
  readonly islandName: string
  readonly colleagueId: string
  readonly islandId: string | null
  readonly state: ColleagueState
  readonly location: string | null
  readonly government: Government | null
  readonly leader: string | null
  readonly isLeader: boolean
  readonly naturalized: boolean
  /**
   * The island exiled this colleague: it takes no more enqueues. In memory it
   * crashes with EXILED at once. In durable mode it first lingers, still
   * `member`, answering as an acceptor until a member of the government that
   * exiled it confirms it; then it crashes with EXILED (or, leaving, shuts down).
   */
  readonly exiled: boolean
  readonly positions: {
    /** Highest position the legislator has chosen (gap free); -1 before any. */
    readonly commit: number
    /** Highest position the application has applied; -1 before any. */
    readonly applied: number
    /** Committed entries waiting to be applied. */
    readonly backlog: number
  }
  /**
   * The committed entry whose handling returned a promise that has not
   * settled (the application's `entry()`, or a snapshot being taken or
   * written), and for how long; null when none is. Every later entry waits
   * on it: one that never settles stops this member applying, and is logged
   * at warn once it has waited `APPLY_STALL_MS`.
   */
  readonly applying: { readonly position: number; readonly forMs: number } | null
  /** Local enqueues not yet applied. */
  readonly pending: number
  /** Milliseconds since this colleague last received messages from each member (on the leader: how long each has been silent). */
  readonly heardMs: Readonly<Record<string, number>>
  /** Requests received, by type, and those refused with an error. */
  readonly requests: Readonly<Record<string, number>>
  readonly transport: KibitzerStats
  /** Present once crashed: why. */
  readonly crash: { readonly code: string; readonly message: string } | null
}
