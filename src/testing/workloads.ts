// Workloads for the whole-colleague simulator beyond the default light load.

import type { Workload } from './colleague-simulation.js'

export interface OneSubmitterOptions {
  /** The colleagueId every value is enqueued through; default m1, the founder. */
  readonly member?: string
  /** Values to enqueue in all. */
  readonly total: number
  /** Enqueues waiting at once, at most: a closed loop, as a busy client keeps it. */
  readonly concurrency?: number
}

/**
 * A closed loop through one submitter: keeps `concurrency` enqueues in
 * flight until `total` were made. Values are numbered, so a value applied
 * twice or lost shows. Pass the submitter in `spare` so that the faults move
 * leadership around it rather than kill it.
 */
export function oneSubmitter(options: OneSubmitterOptions): Workload & { readonly made: () => number } {
  const member = options.member ?? 'm1'
  const concurrency = options.concurrency ?? 64
  let made = 0
  let inFlight = 0
  const workload: Workload = (api) => {
    if (!api.members.includes(member)) return
    while (inFlight < concurrency && made < options.total) {
      made++
      inFlight++
      api
        .enqueue(member, { n: made })
        .catch(() => {})
        .finally(() => {
          inFlight--
        })
    }
  }
  return Object.assign(workload, { made: () => made })
}
