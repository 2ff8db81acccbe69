// Wall-clock time and timers, injected so tests can drive the kibitzer and
// colleague without real waiting. Handles are opaque to callers.

export type TimerHandle = unknown

export interface Clock {
  /**
   * Milliseconds since the epoch, never going back: every timeout, pace and
   * age is measured by it. Signatures between members use the wall clock
   * (`Date.now()`) unless a clock is injected.
   */
  now(): number
  setInterval(callback: () => void, ms: number): TimerHandle
  clearInterval(handle: TimerHandle): void
  setTimeout(callback: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
  /**
   * Runs `callback` once the current burst of inputs is in (the kibitzer
   * flushes there); default `setImmediate`. A simulated clock runs it as its
   * next event.
   */
  defer?(callback: () => void): void
}

/**
 * The process's clock. `now()` is the wall time when the process started plus
 * the monotonic time since: a step of the system clock (NTP, an administrator,
 * a virtual machine resumed) moves no deadline, pace or age, as it moves no
 * timer of node's. Read through `Date.now()`, an hour's step back would hold
 * a paced peer's messages for the hour, and one forward would fail a join
 * under way at once.
 */
export const systemClock: Clock = {
  now: () => Math.floor(performance.timeOrigin + performance.now()),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}
