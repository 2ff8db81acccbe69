// A small seeded pseudo-random source for the simulator. xoshiro128** over
// 32-bit integers, seeded through splitmix32, so one printed seed replays a
// whole run. Streams fork by label rather than by position, which keeps a
// member's stream identical when another part of the run draws more or fewer
// numbers.

export interface Random {
  /** The 32-bit key this stream was seeded with. */
  readonly key: number
  /** A float in [0, 1). */
  next(): number
  /** An integer in [0, n). `n` must be a positive integer. */
  int(n: number): number
  /** True with probability `p`. */
  chance(p: number): boolean
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T
  /** An independent stream derived from this stream's key and `label`. */
  fork(label: string): Random
}

const TWO_POW_32 = 4294967296

function splitmix32(state: number): { state: number; value: number } {
  const next = (state + 0x9e3779b9) | 0
  let z = next
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  z ^= z >>> 16
  return { state: next, value: z >>> 0 }
}

/** FNV-1a over the UTF-16 code units of `text`, mixed with `key`. */
function hashLabel(key: number, text: string): number {
  let hash = (0x811c9dc5 ^ key) >>> 0
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return splitmix32(hash).value
}

function rotl(value: number, shift: number): number {
  return (value << shift) | (value >>> (32 - shift))
}

class Xoshiro128 implements Random {
  readonly key: number
  #a: number
  #b: number
  #c: number
  #d: number

  constructor(key: number) {
    this.key = key >>> 0
    let seeded = splitmix32(this.key)
    this.#a = seeded.value
    seeded = splitmix32(seeded.state)
    this.#b = seeded.value
    seeded = splitmix32(seeded.state)
    this.#c = seeded.value
    seeded = splitmix32(seeded.state)
    this.#d = seeded.value
    // xoshiro must never run from the all-zero state.
    if ((this.#a | this.#b | this.#c | this.#d) === 0) this.#a = 1
  }

  #nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#b, 5), 7), 9) >>> 0
    const shifted = this.#b << 9
    this.#c ^= this.#a
    this.#d ^= this.#b
    this.#b ^= this.#c
    this.#a ^= this.#d
    this.#c ^= shifted
    this.#d = rotl(this.#d, 11)
    return result
  }

  next(): number {
    return this.#nextUint32() / TWO_POW_32
  }

  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`int(n) needs a positive integer, got ${n}`)
    return Math.floor(this.next() * n)
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick() needs a non-empty array')
    return items[this.int(items.length)] as T
  }

  fork(label: string): Random {
    return new Xoshiro128(hashLabel(this.key, label))
  }
}

/** A seeded random stream; the same seed always yields the same sequence. */
export function createRandom(seed: number): Random {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`)
  return new Xoshiro128(hashLabel(0, `seed:${Math.trunc(seed)}`))
}
