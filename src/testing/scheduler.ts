// Simulated time for whole colleagues: one queue of events ordered by
// simulated millisecond and then by the order they were scheduled, and a
// `Clock` per member on top of it. Nothing here waits for real time; the
// simulation runs the events at one instant, lets the colleagues' promise
// continuations settle, and moves on to the next instant.

import type { Clock, TimerHandle } from '../kibitzer/clock.js'

interface Event {
  readonly at: number
  readonly order: number
  /** Dropped when the event is cancelled, so what it holds need not wait in the queue until its instant. */
  run: () => void
  cancelled: boolean
}

function nothing(): void {}

/** Events waiting at once, all members together; beyond it the run is broken, not slow. */
export const EVENTS_MAX = 1_000_000

export class Scheduler {
  #now = 0
  #order = 0
  #heap: Event[] = []
  #ran = 0

  get now(): number {
    return this.#now
  }

  /** Events run so far. */
  get ran(): number {
    return this.#ran
  }

  get waiting(): number {
    return this.#heap.length
  }

  /** Runs `run` at `at` (never before now), after everything already scheduled for that instant. */
  at(at: number, run: () => void): Event {
    if (this.#heap.length >= EVENTS_MAX) throw new Error(`scheduler: more than ${EVENTS_MAX} events waiting`)
    const event: Event = { at: Math.max(at, this.#now), order: this.#order++, run, cancelled: false }
    this.#push(event)
    return event
  }

  /** The instant of the next event, or null when none waits. */
  next(): number | null {
    while (this.#heap.length > 0 && (this.#heap[0] as Event).cancelled) this.#pop()
    return this.#heap.length === 0 ? null : (this.#heap[0] as Event).at
  }

  /** Runs every event due at or before `until`, in order, advancing time; returns after the first instant with events. */
  runInstant(until: number): boolean {
    const at = this.next()
    if (at === null || at > until) {
      this.#now = Math.max(this.#now, until)
      return false
    }
    this.#now = at
    while (this.#heap.length > 0 && (this.#heap[0] as Event).at === at) {
      const event = this.#pop()
      if (event.cancelled) continue
      this.#ran++
      event.run()
    }
    return true
  }

  #push(event: Event): void {
    const heap = this.#heap
    heap.push(event)
    let index = heap.length - 1
    while (index > 0) {
      const parent = (index - 1) >> 1
      if (!before(event, heap[parent] as Event)) break
      heap[index] = heap[parent] as Event
      index = parent
    }
    heap[index] = event
  }

  #pop(): Event {
    const heap = this.#heap
    const top = heap[0] as Event
    const last = heap.pop() as Event
    if (heap.length > 0) {
      let index = 0
      for (;;) {
        const left = 2 * index + 1
        if (left >= heap.length) break
        const right = left + 1
        const child = right < heap.length && before(heap[right] as Event, heap[left] as Event) ? right : left
        if (!before(heap[child] as Event, last)) break
        heap[index] = heap[child] as Event
        index = child
      }
      heap[index] = last
    }
    return top
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order)
}

/**
 * One member's clock: its timers run on the shared scheduler, wait while the
 * member is paused (as a stopped process's would), and never run once it
 * crashed.
 */
export class MemberClock implements Clock {
  readonly #scheduler: Scheduler
  /** Paused until this instant; timers due meanwhile run then, in order. */
  pausedUntil = 0
  dead = false

  constructor(scheduler: Scheduler) {
    this.#scheduler = scheduler
  }

  now(): number {
    return this.#scheduler.now
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer: Timer = { event: null }
    this.#schedule(timer, this.#scheduler.now + Math.max(0, ms), callback)
    return timer
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = handle as Timer | null
    const event = timer?.event
    if (event == null) return
    event.cancelled = true
    event.run = nothing
    ;(timer as Timer).event = null
  }

  setInterval(callback: () => void, ms: number): TimerHandle {
    const period = Math.max(1, ms)
    const timer: Timer = { event: null }
    // One closure for every period: a kibitzer's ticker fires each step for the whole run.
    const fire = (): void => {
      if (this.dead) return
      if (this.#scheduler.now < this.pausedUntil) {
        timer.event = this.#scheduler.at(this.pausedUntil, fire)
        return
      }
      timer.event = this.#scheduler.at(this.#scheduler.now + period, fire)
      callback()
    }
    timer.event = this.#scheduler.at(this.#scheduler.now + period, fire)
    return timer
  }

  clearInterval(handle: TimerHandle): void {
    this.clearTimeout(handle)
  }

  defer(callback: () => void): void {
    // No handle to cancel: what `#schedule` does, without a timer to note the event in.
    const run = (): void => {
      if (this.dead) return
      if (this.#scheduler.now < this.pausedUntil) {
        this.#scheduler.at(this.pausedUntil, run)
        return
      }
      callback()
    }
    this.#scheduler.at(this.#scheduler.now, run)
  }

  /** Schedules `callback` for this member: postponed while paused, dropped once dead. */
  #schedule(timer: Timer, at: number, callback: () => void): void {
    const run = (): void => {
      if (this.dead) return
      if (this.#scheduler.now < this.pausedUntil) {
        timer.event = this.#scheduler.at(this.pausedUntil, run)
        return
      }
      callback()
    }
    timer.event = this.#scheduler.at(at, run)
  }
}

interface Timer {
  event: Event | null
}
