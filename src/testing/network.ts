// A simulated network for legislators: envelopes travel on a simulated clock
// counted in ticks, and may be lost, duplicated, delayed (which reorders them)
// or blocked by a partition. Every queue is bounded; what does not fit is
// dropped and counted, as a real network would drop it.

import type { Envelope } from '../paxos/types.js'
import type { Random } from './prng.js'

export interface NetworkFaults {
  /** Probability that an envelope is lost. */
  readonly lossRate: number
  /** Probability that an envelope is delivered twice (each copy has its own delay). */
  readonly duplicateRate: number
  /** Each envelope takes 1 + int(delayTicksMax + 1) ticks; 0 means always one tick. */
  readonly delayTicksMax: number
  /** Probability that the envelopes due at one tick are shuffled before delivery. */
  readonly reorderRate: number
}

export const NO_FAULTS: NetworkFaults = { lossRate: 0, duplicateRate: 0, delayTicksMax: 0, reorderRate: 0 }

export interface NetworkOptions {
  /** Envelopes in flight, all links together; beyond it new envelopes are dropped. */
  readonly inflightMax?: number
  /** Upper bound on any delay, whatever the faults ask for. */
  readonly delayTicksLimit?: number
}

export interface NetworkStats {
  sent: number
  delivered: number
  lost: number
  duplicated: number
  blocked: number
  overflowed: number
  /** Envelopes discarded because their sender or recipient was removed. */
  discarded: number
}

interface InFlight {
  readonly envelope: Envelope
}

function linkKey(from: string, to: string): string {
  return `${from}\u0000${to}`
}

export class SimulatedNetwork {
  readonly stats: NetworkStats = {
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    blocked: 0,
    overflowed: 0,
    discarded: 0,
  }
  readonly #random: Random
  readonly #inflightMax: number
  readonly #delayTicksLimit: number
  /** Due tick to the envelopes due then, in send order. */
  readonly #due = new Map<number, InFlight[]>()
  /** Directed links that drop everything: `from\0to`. */
  readonly #blocked = new Set<string>()
  readonly #removed = new Set<string>()
  #faults: NetworkFaults = NO_FAULTS
  #now = 0
  #inflight = 0

  constructor(random: Random, options: NetworkOptions = {}) {
    this.#random = random
    this.#inflightMax = options.inflightMax ?? 20_000
    this.#delayTicksLimit = options.delayTicksLimit ?? 64
  }

  /** The current tick. */
  get now(): number {
    return this.#now
  }

  get faults(): NetworkFaults {
    return this.#faults
  }

  get inflight(): number {
    return this.#inflight
  }

  setFaults(faults: Partial<NetworkFaults>): void {
    this.#faults = { ...this.#faults, ...faults }
  }

  /** Block both directions between every member of `left` and every member of `right`. */
  partition(left: readonly string[], right: readonly string[]): void {
    for (const a of left) {
      for (const b of right) {
        if (a === b) continue
        this.#blocked.add(linkKey(a, b))
        this.#blocked.add(linkKey(b, a))
      }
    }
  }

  /** Block only the direction from each of `from` to each of `to`. */
  partitionOneWay(from: readonly string[], to: readonly string[]): void {
    for (const a of from) {
      for (const b of to) {
        if (a !== b) this.#blocked.add(linkKey(a, b))
      }
    }
  }

  /** Remove every partition. Faults set with `setFaults` stay. */
  heal(): void {
    this.#blocked.clear()
  }

  get partitioned(): boolean {
    return this.#blocked.size > 0
  }

  isBlocked(from: string, to: string): boolean {
    return this.#blocked.has(linkKey(from, to))
  }

  /** A crashed node: nothing reaches it or leaves it from now on. */
  remove(id: string): void {
    this.#removed.add(id)
  }

  send(envelope: Envelope): void {
    this.stats.sent++
    if (this.#removed.has(envelope.to) || this.#removed.has(envelope.from)) {
      this.stats.discarded++
      return
    }
    if (this.#faults.lossRate > 0 && this.#random.chance(this.#faults.lossRate)) {
      this.stats.lost++
      return
    }
    this.#enqueue(envelope)
    if (this.#faults.duplicateRate > 0 && this.#random.chance(this.#faults.duplicateRate)) {
      this.stats.duplicated++
      this.#enqueue(envelope)
    }
  }

  #enqueue(envelope: Envelope): void {
    if (this.#inflight >= this.#inflightMax) {
      this.stats.overflowed++
      return
    }
    const extra = Math.min(this.#faults.delayTicksMax, this.#delayTicksLimit)
    const delay = 1 + (extra > 0 ? this.#random.int(extra + 1) : 0)
    const at = this.#now + delay
    let bucket = this.#due.get(at)
    if (bucket === undefined) {
      bucket = []
      this.#due.set(at, bucket)
    }
    bucket.push({ envelope })
    this.#inflight++
  }

  /**
   * Advance the clock one tick and return the envelopes due now, in delivery
   * order. Partitions are applied at delivery, so envelopes already in flight
   * when a partition starts are dropped too.
   */
  advance(): Envelope[] {
    this.#now++
    const bucket = this.#due.get(this.#now)
    if (bucket === undefined) return []
    this.#due.delete(this.#now)
    this.#inflight -= bucket.length
    if (bucket.length > 1 && this.#faults.reorderRate > 0 && this.#random.chance(this.#faults.reorderRate)) {
      this.#shuffle(bucket)
    }
    const delivered: Envelope[] = []
    for (const { envelope } of bucket) {
      if (this.#removed.has(envelope.to) || this.#removed.has(envelope.from)) {
        this.stats.discarded++
      } else if (this.#blocked.has(linkKey(envelope.from, envelope.to))) {
        this.stats.blocked++
      } else {
        this.stats.delivered++
        delivered.push(envelope)
      }
    }
    return delivered
  }

  #shuffle(items: InFlight[]): void {
    for (let index = items.length - 1; index > 0; index--) {
      const other = this.#random.int(index + 1)
      const item = items[index] as InFlight
      items[index] = items[other] as InFlight
      items[other] = item
    }
  }
}
