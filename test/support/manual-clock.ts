// A clock for kibitzer tests: time moves only when a test advances it, and
// the timers due meanwhile fire in order, intervals again each period.

import type { Clock } from '../../src/index.js'

export class ManualClock implements Clock {
  time = 0
  private timers = new Map<number, { callback: () => void; ms: number; next: number; repeat: boolean }>()
  private nextId = 1

  now(): number {
    return this.time
  }

  setInterval(callback: () => void, ms: number): unknown {
    return this.add(callback, ms, true)
  }

  clearInterval(handle: unknown): void {
    this.timers.delete(handle as number)
  }

  setTimeout(callback: () => void, ms: number): unknown {
    return this.add(callback, ms, false)
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number)
  }

  private add(callback: () => void, ms: number, repeat: boolean): number {
    const id = this.nextId++
    this.timers.set(id, { callback, ms, next: this.time + ms, repeat })
    return id
  }

  get pending(): number {
    return this.timers.size
  }

  advance(ms: number): void {
    const end = this.time + ms
    for (;;) {
      let due: [number, { callback: () => void; ms: number; next: number; repeat: boolean }] | undefined
      for (const entry of this.timers) if (entry[1].next <= end && (due === undefined || entry[1].next < due[1].next)) due = entry
      if (due === undefined) break
      const [id, timer] = due
      this.time = timer.next
      if (timer.repeat) timer.next += timer.ms
      else this.timers.delete(id)
      timer.callback()
    }
    this.time = end
  }
}
