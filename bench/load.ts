// The closed-loop load generator every cell of the benchmark uses: N
// workers, each issuing its next operation as soon as the last one ended.
// A warm-up runs first and is not counted; then one measured window. Every
// operation is bounded by the caller's own timeout, so the loop ends within
// a timeout of the window's end.

import { createHistogram } from 'node:perf_hooks'

export interface LoadSpec {
  readonly concurrency: number
  readonly warmupMs: number
  readonly windowMs: number
}

export interface LoadResult {
  readonly concurrency: number
  readonly ops: number
  readonly errors: number
  readonly firstError: string | null
  readonly elapsedMs: number
  readonly opsPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly meanMs: number
  /** CPU (user + system) this process spent during the window. */
  readonly cpuMicros: number
  readonly cpuMicrosPerOp: number
}

/** Pause after a failed operation so that a refusing server is not spun against. */
const ERROR_PAUSE_MS = 10

/** One operation; `index` counts every operation this loop issued. */
export type Operation = (index: number) => Promise<void>

/** Told when the measured window starts and ends, e.g. to sample other processes' CPU. */
export type WindowHook = (phase: 'start' | 'end') => void

export async function closedLoop(operation: Operation, spec: LoadSpec, onWindow: WindowHook = () => {}): Promise<LoadResult> {
  if (!(spec.concurrency >= 1) || !(spec.windowMs > 0) || !(spec.warmupMs >= 0)) {
    throw new RangeError('concurrency >= 1, windowMs > 0 and warmupMs >= 0 are required')
  }
  const histogram = createHistogram()
  let measuring = false
  let stopped = false
  let issued = 0
  let ops = 0
  let errors = 0
  let firstError: string | null = null

  const worker = async (): Promise<void> => {
    while (!stopped) {
      const index = issued++
      const start = process.hrtime.bigint()
      try {
        await operation(index)
      } catch (error) {
        if (measuring) {
          errors++
          firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error)
        }
        await new Promise((resolve) => setTimeout(resolve, ERROR_PAUSE_MS))
        continue
      }
      if (!measuring || stopped) continue
      ops++
      histogram.record(Math.max(1, Number(process.hrtime.bigint() - start)))
    }
  }

  const workers = Array.from({ length: spec.concurrency }, () => worker())
  await new Promise((resolve) => setTimeout(resolve, spec.warmupMs))
  measuring = true
  onWindow('start')
  const cpuStart = process.cpuUsage()
  const started = performance.now()
  await new Promise((resolve) => setTimeout(resolve, spec.windowMs))
  const elapsedMs = performance.now() - started
  const cpu = process.cpuUsage(cpuStart)
  onWindow('end')
  stopped = true
  const counted = ops
  await Promise.all(workers)
  const cpuMicros = cpu.user + cpu.system
  return {
    concurrency: spec.concurrency,
    ops: counted,
    errors,
    firstError,
    elapsedMs,
    opsPerSecond: (counted * 1000) / elapsedMs,
    p50Ms: counted === 0 ? Number.NaN : histogram.percentile(50) / 1e6,
    p99Ms: counted === 0 ? Number.NaN : histogram.percentile(99) / 1e6,
    meanMs: counted === 0 ? Number.NaN : histogram.mean / 1e6,
    cpuMicros,
    cpuMicrosPerOp: counted === 0 ? Number.NaN : cpuMicros / counted,
  }
}

/** A printable 100-byte value, different per operation only in its tail. */
export function valueOf(index: number): string {
  const tail = String(index).padStart(12, '0')
  return `${'v'.repeat(100 - tail.length)}${tail}`
}

/** Keys cycle through a bounded set so that the stores stay the same size. */
export const KEYS_MAX = 1024

export function keyOf(index: number): string {
  return `k${index % KEYS_MAX}`
}
