// The legislator's random source: seeded, so a run can be replayed; the
// colleague seeds it from the operating system unless the caller passes one.

import { randomInt } from 'node:crypto'

/** A 32-bit seeded generator (SplitMix32 finalizer over a Weyl sequence), in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    z = (z ^ (z >>> 16)) >>> 0
    return z / 0x1_0000_0000
  }
}

export function randomSeed(): number {
  return randomInt(0x1_0000_0000 - 1)
}
