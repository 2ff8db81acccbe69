// Maps the operator's milliseconds onto the legislator's abstract ticks.

export interface TickSchedule {
  /** Milliseconds between two ticks. */
  readonly tickMs: number
  /** Ticks between two leader heartbeats. */
  readonly pingTicks: number
  /** Ticks of silence after which a peer is suspected. */
  readonly timeoutTicks: number
}

/**
 * Several ticks per ping, so that the legislator's randomized election
 * backoff (counted in ticks) has room to differ between members.
 */
export const TICKS_PER_PING = 5

export function tickSchedule(pingMs: number, timeoutMs: number): TickSchedule {
  if (!Number.isFinite(pingMs) || pingMs < 1) throw new RangeError(`pingMs must be >= 1, got ${pingMs}`)
  if (!Number.isFinite(timeoutMs) || timeoutMs <= pingMs) {
    throw new RangeError(`timeoutMs must be greater than pingMs (${pingMs}), got ${timeoutMs}`)
  }
  const tickMs = Math.max(1, Math.floor(pingMs / TICKS_PER_PING))
  const pingTicks = Math.max(1, Math.round(pingMs / tickMs))
  const timeoutTicks = Math.max(pingTicks + 1, Math.ceil(timeoutMs / tickMs))
  return { tickMs, pingTicks, timeoutTicks }
}

/**
 * Spread of the legislator's random election backoff past the timeout:
 * wide enough (two pings, a quarter of the timeout) that members rarely
 * stand at once, narrow enough that a dead leader is replaced about 1.1x
 * timeoutMs after its last word rather than anywhere up to 3x.
 */
export function electionJitterTicks(schedule: TickSchedule): number {
  return Math.max(2 * schedule.pingTicks, Math.ceil(schedule.timeoutTicks / 4))
}
