// What the whole-colleague simulator watches inside a colleague. It is set
// through an option key that is not part of the public API, and it only
// looks: nothing the colleague does depends on it.

import type { Committed } from '../paxos/types.js'

/** The option key a simulator sets to watch a colleague; absent from ColleagueOptions on purpose. */
export const WATCH_OPTION: unique symbol = Symbol('paxos-colleague watch')

export interface ColleagueWatch {
  /** Entries this member's legislator committed, as they go to the applier: before the application applies any. */
  committed(entries: readonly Committed[]): void
}

export interface WatchOption {
  readonly [WATCH_OPTION]?: ColleagueWatch
}
