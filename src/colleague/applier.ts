// Applies committed entries strictly in position order, one at a time, even
// when handling an entry is asynchronous (an application callback returning a
// promise, a newcomer fetching its state out of band). Synchronous handlers
// run without a microtask hop per entry.

import type { Committed } from '../paxos/types.js'

export type ApplyHandler = (committed: Committed) => void | Promise<void>

export interface ApplierOptions {
  handle: ApplyHandler
  /** Clock time, for how long an asynchronous handling has been under way (`waiting`). */
  now(): number
  /** After each entry is fully handled. */
  onApplied(position: number): void
  /** The handler threw or rejected, or positions arrived out of order. The applier has stopped. */
  onFault(error: unknown, committed: Committed): void
}

export class Applier {
  private readonly options: ApplierOptions
  private queue: Committed[] = []
  private head = 0
  private draining = false
  private stopped = false
  private last = -1
  private started = false
  /** Entries wait, queued, until `release()`: the application's state is being restored. */
  private held = false
  /** The entry whose asynchronous handling is awaited, and since when; null when none is. */
  private awaited: { readonly position: number; readonly since: number } | null = null

  constructor(options: ApplierOptions) {
    this.options = options
  }

  /** Position of the last entry fully applied; -1 before any. */
  get applied(): number {
    return this.last
  }

  /** Committed entries not applied yet: those queued, and the one whose handling is awaited. */
  get backlog(): number {
    return this.queue.length - this.head + (this.awaited === null ? 0 : 1)
  }

  /**
   * The entry whose handling returned a promise not settled yet (the
   * application's `entry()`, a snapshot being taken or written) and since
   * when, in clock time; null when none is. Every later entry waits on it.
   */
  get waiting(): { readonly position: number; readonly since: number } | null {
    return this.awaited
  }

  push(entries: readonly Committed[]): void {
    if (this.stopped) return
    for (const entry of entries) this.queue.push(entry)
    this.startDraining()
  }

  /** Applies nothing more until `release()`: what is committed meanwhile waits in order. */
  hold(): void {
    this.held = true
  }

  /** Applies what waited, and what comes, again. */
  release(): void {
    this.held = false
    this.startDraining()
  }

  private startDraining(): void {
    if (this.draining || this.held || this.stopped || this.head >= this.queue.length) return
    this.draining = true
    // Never apply inside the caller's stack: the caller may be the kibitzer's flush.
    queueMicrotask(() => void this.drain())
  }

  stop(): void {
    this.stopped = true
    this.queue = []
    this.head = 0
    this.awaited = null
  }

  private async drain(): Promise<void> {
    while (!this.stopped && !this.held && this.head < this.queue.length) {
      const committed = this.queue[this.head] as Committed
      this.head++
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head)
        this.head = 0
      }
      if (this.started && committed.position !== this.last + 1) {
        this.fail(new Error(`committed position ${committed.position} after ${this.last}: not in order`), committed)
        break
      }
      try {
        const pending = this.options.handle(committed)
        if (pending !== undefined) {
          this.awaited = { position: committed.position, since: this.options.now() }
          await pending
          this.awaited = null
        }
      } catch (error) {
        this.awaited = null
        this.fail(error, committed)
        break
      }
      if (this.stopped) break
      this.started = true
      this.last = committed.position
      this.options.onApplied(committed.position)
    }
    this.draining = false
  }

  private fail(error: unknown, committed: Committed): void {
    this.stop()
    this.options.onFault(error, committed)
  }
}
