// Bounded waits on a condition over the colleague's state ("has applied this
// arrival", "is naturalized"): each waiter re-checks its predicate whenever
// the state moves, and fails with its own error when its time runs out.

import type { Clock, TimerHandle } from '../kibitzer/clock.js'

interface Waiter {
  readonly predicate: () => boolean
  readonly resolve: () => void
  readonly reject: (error: unknown) => void
  readonly timer: TimerHandle
}

export class Waiters {
  private readonly clock: Clock
  private readonly waiters = new Set<Waiter>()
  /** Set by `rejectAll`: the colleague ended, and every later wait fails with it at once. */
  private ended: { readonly error: unknown } | null = null

  constructor(clock: Clock) {
    this.clock = clock
  }

  get size(): number {
    return this.waiters.size
  }

  /**
   * Resolves once `predicate()` holds; rejects with `timeout()` after
   * `timeoutMs`, or with the error `rejectAll` ended the colleague with (also
   * when that came first: a crash between two steps of a join is not waited
   * out).
   */
  until(predicate: () => boolean, timeoutMs: number, timeout: () => unknown): Promise<void> {
    if (this.ended !== null) return Promise.reject(this.ended.error)
    if (predicate()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve,
        reject,
        timer: this.clock.setTimeout(() => {
          this.waiters.delete(waiter)
          reject(timeout())
        }, timeoutMs),
      }
      this.waiters.add(waiter)
    })
  }

  /** Re-checks every predicate; call after any state change. */
  check(): void {
    if (this.waiters.size === 0) return
    for (const waiter of this.waiters) {
      if (!waiter.predicate()) continue
      this.waiters.delete(waiter)
      this.clock.clearTimeout(waiter.timer)
      waiter.resolve()
    }
  }

  /** Fails every wait with `error`, now and from now on. */
  rejectAll(error: unknown): void {
    this.ended ??= { error }
    for (const waiter of this.waiters) {
      this.clock.clearTimeout(waiter.timer)
      waiter.reject(error)
    }
    this.waiters.clear()
  }
}
