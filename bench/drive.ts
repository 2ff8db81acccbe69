// One cell's client, run as its own process so that its CPU time is its
// own: drives a target with the closed-loop generator and prints one JSON
// line with the result (after a line at the start and the end of the measured
// window, so the parent can sample the servers' CPU). Targets:
//   http  PUT <url><prefix><key> with a 100-byte text body, through an undici Pool
//         (our kv routes, or the bare node:http limit server)
//   etcd  put(key).value(100 bytes) through the etcd3 client
// Usage: node dist/bench/drive.js '<json DriveSpec>'

import { Pool } from 'undici'
import { closedLoop, keyOf, valueOf, type LoadSpec, type Operation } from './load.js'

export interface DriveSpec extends LoadSpec {
  readonly target: 'http' | 'etcd'
  /** http: the origin; etcd: the endpoint (`http://127.0.0.1:2379`). */
  readonly url: string
  /** http only: prepended to the key, e.g. `/kv/`. */
  readonly prefix?: string
  readonly timeoutMs: number
}

async function httpOperation(spec: DriveSpec): Promise<{ operation: Operation; close(): Promise<void> }> {
  const pool = new Pool(spec.url, { connections: spec.concurrency, keepAliveTimeout: 30_000 })
  const prefix = spec.prefix ?? '/kv/'
  const headers = { 'content-type': 'text/plain' }
  const operation: Operation = async (index) => {
    const response = await pool.request({
      method: 'PUT',
      path: `${prefix}${keyOf(index)}`,
      headers,
      body: valueOf(index),
      headersTimeout: spec.timeoutMs,
      bodyTimeout: spec.timeoutMs,
    })
    const text = await response.body.text()
    if (response.statusCode !== 200) throw new Error(`PUT answered ${response.statusCode}: ${text.slice(0, 200)}`)
  }
  return { operation, close: () => pool.close() }
}

async function etcdOperation(spec: DriveSpec): Promise<{ operation: Operation; close(): Promise<void> }> {
  const { Etcd3 } = await import('etcd3')
  const client = new Etcd3({ hosts: spec.url })
  const operation: Operation = async (index) => {
    await client
      .put(keyOf(index))
      .value(valueOf(index))
      .options({ deadline: Date.now() + spec.timeoutMs })
      .exec()
  }
  return {
    operation,
    close: async () => {
      client.close()
    },
  }
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as DriveSpec
  const { operation, close } = spec.target === 'etcd' ? await etcdOperation(spec) : await httpOperation(spec)
  try {
    const result = await closedLoop(operation, spec, (phase) => process.stdout.write(`window ${phase}\n`))
    process.stdout.write(`${JSON.stringify(result)}\n`)
  } finally {
    await close()
  }
}

// The parent may die without telling us: never outlive it.
process.on('disconnect', () => process.exit(1))
main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`drive failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(1)
  },
)
