// undici, loaded on first use rather than with the library: a colleague that
// never talks HTTP to a peer (the simulator, a test, a process that only
// reads its own state) does not pay the quarter of a second it takes to load.

import { createRequire } from 'node:module'
import type * as Undici from 'undici'

let loaded: typeof Undici | null = null

export function undici(): typeof Undici {
  loaded ??= createRequire(import.meta.url)('undici') as typeof Undici
  return loaded
}
