// A member runs at full speed only once V8 has optimized the functions on
// its write path, and by default V8 lets a function run a good while before
// it looks at it: a freshly started island answered one client's first
// seconds of writes about four times slower than once warm, some 10,000
// writes later (the README's "Warm-up" gives the figures). With V8 looking
// eight times as often, and optimizing a function sooner after its type
// feedback changed, those first seconds took about half as long, and the
// warm figure did not change. So `serve` has V8 look sooner, unless node's
// own command line sets these flags. The flags are V8 11.3's (Node 20's,
// where this was measured); later V8s (Node 21 and up) dropped
// `--interrupt-budget` and tier up differently, so there `serve` leaves V8's
// defaults.

import { setFlagsFromString } from 'node:v8'

/** The V8 flags `serve` sets, by name, and their values (V8's defaults: 67584 and 500). */
export const EAGER_TIERING: ReadonlyArray<readonly [name: string, value: number]> = [
  ['interrupt-budget', 8192],
  ['minimum-invocations-after-ic-update', 50],
]

/** The V8 these flags are for, major.minor: Node 20's. */
export const TIERING_V8 = '11.3'

/**
 * The flags of `EAGER_TIERING` that `execArgv` (node's own arguments) does
 * not set already, as V8 takes them; none on a V8 other than `TIERING_V8`
 * (`v8Version` as in `process.versions.v8`).
 */
export function tieringFlags(execArgv: readonly string[], v8Version: string = process.versions.v8): string[] {
  if (v8Version.split('.', 2).join('.') !== TIERING_V8) return []
  const given = new Set(execArgv.filter((arg) => arg.startsWith('--')).map((arg) => arg.slice(2).split('=', 1)[0]?.replaceAll('_', '-')))
  return EAGER_TIERING.filter(([name]) => !given.has(name)).map(([name, value]) => `--${name}=${value}`)
}

/** Sets `tieringFlags(process.execArgv)`; call it before the library is loaded. Returns what it set. */
export function tierUpSooner(): string[] {
  const flags = tieringFlags(process.execArgv)
  for (const flag of flags) setFlagsFromString(flag)
  return flags
}
