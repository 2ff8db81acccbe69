// What a colleague says when its messages do not reach a peer. A lost
// connection is routine (the legislator repeats what matters) and stays at
// debug. A peer that answers with an error status refused the whole batch:
// if that persists it can never follow the log, so it is logged at warn with
// the peer's code, once per peer and code every `repeatMs`, with how many
// refusals the quiet interval hid.

import type { Clock } from '../kibitzer/clock.js'
import { PeerRefusal } from './http-transport.js'
import type { PinoLikeLogger } from './logger.js'

export const REFUSAL_REPEAT_MS = 10_000

export class RefusalLog {
  private readonly logger: PinoLikeLogger
  private readonly clock: Clock
  private readonly repeatMs: number
  /** `${peer} ${code}` to when it was last logged and how many refusals came since. */
  private readonly seen = new Map<string, { loggedAt: number; since: number }>()

  constructor(logger: PinoLikeLogger, clock: Clock, repeatMs = REFUSAL_REPEAT_MS) {
    this.logger = logger
    this.clock = clock
    this.repeatMs = repeatMs
  }

  onSendFailure(to: string, error: unknown): void {
    if (!(error instanceof PeerRefusal)) {
      this.logger.debug({ to, err: error }, 'kibitz send failed')
      return
    }
    const code = error.peerCode ?? `HTTP ${error.peerStatus}`
    const key = `${to} ${code}`
    const now = this.clock.now()
    const last = this.seen.get(key)
    if (last !== undefined && now - last.loggedAt < this.repeatMs) {
      last.since++
      return
    }
    if (this.seen.size >= 1024) this.seen.clear()
    this.seen.set(key, { loggedAt: now, since: 0 })
    this.logger.warn(
      { to, code, status: error.peerStatus, refusedSinceLastWarning: last?.since ?? 0, reason: error.message },
      'a peer refused our messages',
    )
  }
}
