// Wall-clock time and timers, injected so tests can drive the kibitzer and
// colleague without real waiting. Handles are opaque to callers.

export type TimerHandle = unknown

export interface Clock {
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

export const systemClock: Clock = {
  now: () => Date.now(),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}
