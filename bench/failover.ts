// Failover under load: writers spread over every member, the leader is
// SIGKILLed, and we time from the kill to the first write issued after it
// that succeeds. The same loop serves our island (PUT /kv through undici)
// and etcd (put through etcd3, one client per endpoint so both sides fail
// over the same way: a failed write is retried on the next endpoint).

import { Pool } from 'undici'
import { keyOf, valueOf } from './load.js'
import { sleep } from './stats.js'

export type Write = (index: number) => Promise<void>

export interface Writers {
  readonly writes: readonly Write[]
  close(): Promise<void>
}

export interface FailoverSpec {
  readonly concurrency: number
  /** Load before the kill, so the kill lands under load. */
  readonly beforeMs: number
  /** Give up on a first write after this long. */
  readonly deadlineMs: number
}

export interface FailoverTrial {
  readonly killed: string
  /** Kill to completion of the first write issued after the kill that succeeded; null if none within the deadline. */
  readonly firstWriteMs: number | null
  readonly writesBeforeKill: number
  readonly failedWrites: number
}

const ERROR_PAUSE_MS = 10

export function httpWriters(urls: readonly string[], timeoutMs: number): Writers {
  const pools = urls.map((url) => new Pool(url, { connections: 8, keepAliveTimeout: 30_000 }))
  const writes = pools.map((pool): Write => async (index) => {
    const response = await pool.request({
      method: 'PUT',
      path: `/kv/${keyOf(index)}`,
      headers: { 'content-type': 'text/plain' },
      body: valueOf(index),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    })
    const text = await response.body.text()
    if (response.statusCode !== 200) throw new Error(`PUT answered ${response.statusCode}: ${text.slice(0, 120)}`)
  })
  return { writes, close: async () => void (await Promise.allSettled(pools.map((pool) => pool.destroy()))) }
}

/**
 * etcd3's own fault handling (retries, and a circuit breaker that stops
 * using a host for 5 s after three failures) is switched off here: the loop
 * above retries on the next endpoint, exactly as it does for our island, so
 * both sides are timed on the servers' failover alone.
 */
const passThrough = { execute: <T>(run: () => T): T => run() }

export async function etcdWriters(urls: readonly string[], timeoutMs: number): Promise<Writers> {
  const { Etcd3 } = await import('etcd3')
  type FaultHandling = NonNullable<NonNullable<ConstructorParameters<typeof Etcd3>[0]>['faultHandling']>
  const faultHandling = { host: () => passThrough, global: passThrough } as unknown as FaultHandling
  const clients = urls.map((url) => new Etcd3({ hosts: url, dialTimeout: timeoutMs, faultHandling }))
  const writes = clients.map((client): Write => async (index) => {
    await client
      .put(keyOf(index))
      .value(valueOf(index))
      .options({ deadline: Date.now() + timeoutMs })
      .exec()
  })
  return { writes, close: async () => clients.forEach((client) => client.close()) }
}

export async function failover(writers: Writers, kill: () => string, spec: FailoverSpec): Promise<FailoverTrial> {
  let issued = 0
  let succeeded = 0
  let failed = 0
  let killedAt: number | null = null
  let firstWriteMs: number | null = null
  let stopped = false
  const worker = async (): Promise<void> => {
    while (!stopped) {
      const index = issued++
      const write = writers.writes[index % writers.writes.length] as Write
      const startedAt = performance.now()
      try {
        await write(index)
        succeeded++
        if (killedAt !== null && startedAt >= killedAt && firstWriteMs === null) firstWriteMs = performance.now() - killedAt
      } catch {
        if (killedAt !== null) failed++
        await sleep(ERROR_PAUSE_MS)
      }
    }
  }
  const workers = Array.from({ length: spec.concurrency }, () => worker())
  await sleep(spec.beforeMs)
  const writesBeforeKill = succeeded
  killedAt = performance.now()
  const killed = kill()
  const deadline = killedAt + spec.deadlineMs
  while (firstWriteMs === null && performance.now() < deadline) await sleep(5)
  stopped = true
  await Promise.all(workers)
  await writers.close()
  return { killed, firstWriteMs, writesBeforeKill, failedWrites: failed }
}
