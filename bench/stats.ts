// Small numeric helpers shared by the benchmark's parts: medians, ratios,
// and the CPU time of other processes read from /proc (Linux only; null
// elsewhere, and the table shows a dash).

import { readFileSync } from 'node:fs'

export function median(values: readonly number[]): number {
  const finite = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b)
  if (finite.length === 0) return Number.NaN
  const middle = Math.floor(finite.length / 2)
  return finite.length % 2 === 1
    ? (finite[middle] as number)
    : ((finite[middle - 1] as number) + (finite[middle] as number)) / 2
}

export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : Number.NaN
}

const CLOCK_TICKS_PER_SECOND = 100

/** User plus system CPU time of `pid` in microseconds, or null when /proc cannot tell. */
export function processCpuMicros(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may hold spaces; fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const user = Number(fields[11])
    const system = Number(fields[12])
    if (!Number.isFinite(user) || !Number.isFinite(system)) return null
    return ((user + system) * 1_000_000) / CLOCK_TICKS_PER_SECOND
  } catch {
    return null
  }
}

/** Summed CPU microseconds of `pids`, or null when any cannot be read. */
export function totalCpuMicros(pids: readonly number[]): number | null {
  let total = 0
  for (const pid of pids) {
    const micros = processCpuMicros(pid)
    if (micros === null) return null
    total += micros
  }
  return total
}

/** Resident set size of `pid` in bytes, from /proc; null when unreadable. */
export function processRssBytes(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status)
    return match?.[1] === undefined ? null : Number(match[1]) * 1024
  } catch {
    return null
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
