// Checks of the options a program passes to the simulators, before anything
// runs: a TypeError for the wrong kind of value, a RangeError for one out of
// range, each message starting with the option's name. Without them a
// simulator ran on and reported what the options did as the island's fault
// (`members: 0` as a liveness violation after hundreds of steps).

export function checkObject(options: unknown, what: string): asserts options is Record<string, unknown> {
  if (options === null || typeof options !== 'object') throw new TypeError(`${what} takes an options object`)
}

/** Only the options `known`: a misspelt one (`stpes`) would otherwise be ignored without a word. */
export function checkKnown(options: object, known: readonly string[], what: string): void {
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) throw new TypeError(`${name} is not an option of ${what}; its options are ${known.join(', ')}`)
  }
}

/** The run's seed: a finite number. */
export function checkSeed(options: object): void {
  const { seed } = options as { seed?: unknown }
  if (typeof seed !== 'number') throw new TypeError(`seed must be a number, got ${seed === null ? 'null' : typeof seed}`)
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`)
}

/** An integer from `low` to `high` (odd if asked), when present. */
export function checkInteger(options: object, name: string, low: number, high: number, odd = false): void {
  const value = (options as Record<string, unknown>)[name]
  if (value === undefined) return
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${typeof value}`)
  if (!Number.isSafeInteger(value) || value < low || value > high || (odd && value % 2 === 0)) {
    throw new RangeError(`${name} must be ${odd ? 'an odd' : 'an'} integer from ${low} to ${high}, got ${value}`)
  }
}

/** A value of the given `typeof`, when present. */
export function checkKind(options: object, name: string, expected: 'function' | 'boolean'): void {
  const value = (options as Record<string, unknown>)[name]
  if (value !== undefined && typeof value !== expected) throw new TypeError(`${name} must be a ${expected}, got ${typeof value}`)
}

/** One of `allowed`, when present. */
export function checkOneOf(options: object, name: string, allowed: readonly unknown[]): void {
  const value = (options as Record<string, unknown>)[name]
  if (value !== undefined && !allowed.includes(value)) {
    throw new RangeError(`${name} must be one of ${allowed.map(String).join(', ')}, got ${String(value)}`)
  }
}
