// Bounded client load on a kv island: a few clients, each pacing itself to a
// fixed rate, each write under its own key with a value used once. Every
// operation is recorded with its invoke and complete times; an answer that
// does not say the write was refused (a timeout, a cut connection, a crash
// while pending) is unknown, not failed.

import type { HistoryOperation, KvMap, Outcome, ReadOperation, ScanOperation, WriteOperation } from '../../src/testing/history.js'
import type { Random } from '../../src/testing/prng.js'
import { sleep } from './cluster.js'

/** Codes that mean the write was refused before it entered the log. */
const DEFINITELY_REFUSED = new Set([
  'KV_BAD_KEY',
  'KV_BAD_QUERY',
  'KV_BAD_JSON',
  'KV_BAD_TEXT',
  'KV_BODY_TOO_LARGE',
  'KV_METHOD_NOT_ALLOWED',
  'KV_UNAVAILABLE',
  'NOT_A_MEMBER',
  'NOT_JOINED',
  'QUEUE_FULL',
  'CRASHED',
])

export const OPERATIONS_PER_CLIENT_MAX = 10_000

export interface LoadOptions {
  readonly seed: number
  readonly random: Random
  /** Direct URLs of the members clients may talk to right now. */
  targets(): readonly string[]
  readonly clients: number
  readonly ratePerClient: number
  readonly timeoutMs: number
  /** Share of operations that are reads; the rest are writes. */
  readonly readShare?: number
}

export class Load {
  readonly operations: HistoryOperation[] = []
  startedAt = 0
  stoppedAt = 0
  readonly #options: LoadOptions
  #running = false
  #clients: Promise<void>[] = []
  #nextId = 0
  readonly #invokedKeys: string[] = []

  constructor(options: LoadOptions) {
    this.#options = options
  }

  start(): void {
    this.#running = true
    this.startedAt = Date.now()
    for (let index = 0; index < this.#options.clients; index++) this.#clients.push(this.#client(`c${index}`))
  }

  /** Idempotent: the second call only waits for the clients to finish. */
  async stop(): Promise<void> {
    const first = this.#running
    this.#running = false
    await Promise.all(this.#clients)
    if (first) this.stoppedAt = Date.now()
  }

  /** Ok writes: [completedAt...] sorted. */
  okWriteTimes(): number[] {
    return this.operations
      .filter((operation) => operation.kind === 'write' && operation.outcome === 'ok')
      .map((operation) => operation.completedAt as number)
      .sort((a, b) => a - b)
  }

  /** The longest stretch of the load without an acknowledged write, and where it started. */
  longestGap(): { ms: number; from: number } {
    const times = [this.startedAt, ...this.okWriteTimes(), this.stoppedAt]
    let best = { ms: 0, from: this.startedAt }
    for (let index = 1; index < times.length; index++) {
      const gap = (times[index] as number) - (times[index - 1] as number)
      if (gap > best.ms) best = { ms: gap, from: times[index - 1] as number }
    }
    return best
  }

  /** First acknowledged write invoked at or after `at`, as ms after `at`. */
  firstWriteAfter(at: number): number | null {
    const times = this.operations
      .filter((operation) => operation.kind === 'write' && operation.outcome === 'ok' && operation.invokedAt >= at)
      .map((operation) => (operation.completedAt as number) - at)
    return times.length === 0 ? null : Math.min(...times)
  }

  async #client(name: string): Promise<void> {
    const { random, ratePerClient } = this.#options
    const intervalMs = 1000 / ratePerClient
    let count = 0
    while (this.#running && count < OPERATIONS_PER_CLIENT_MAX) {
      const began = Date.now()
      const targets = this.#options.targets()
      const target = targets[Math.floor(random.next() * targets.length)]
      if (target !== undefined) {
        const roll = random.next()
        const readShare = this.#options.readShare ?? 0.3
        if (roll < readShare * 0.85 && this.#invokedKeys.length > 0) await this.#read(name, target)
        else if (roll < readShare) await this.#scan(name, target, random.next() < 0.7)
        else await this.#write(name, target, count)
      }
      count++
      const spent = Date.now() - began
      await sleep(Math.max(1, intervalMs - spent))
    }
  }

  /** One write outside the clients' loops, recorded in the same history. */
  async writeOnce(client: string, target: string): Promise<WriteOperation> {
    await this.#write(client, target, this.#nextId)
    return this.operations.at(-1) as WriteOperation
  }

  async #write(client: string, target: string, count: number): Promise<void> {
    const id = this.#nextId++
    const key = `s${this.#options.seed}-${client}-${count}`
    const value = `v${this.#options.seed}-${client}-${count}-${id}`
    this.#invokedKeys.push(key)
    const invokedAt = Date.now()
    const answer = await this.#call(`${target}/kv/${key}`, 'PUT', JSON.stringify(value))
    const completedAt = Date.now()
    const position = (answer.body as { position?: unknown } | null)?.position
    const operation: WriteOperation =
      answer.status === 200 && typeof position === 'number'
        ? { kind: 'write', id, client, key, value, invokedAt, completedAt, outcome: 'ok', position }
        : { kind: 'write', id, client, key, value, invokedAt, completedAt: answer.outcome === 'unknown' ? null : completedAt, outcome: answer.outcome }
    this.operations.push(operation)
  }

  async #read(client: string, target: string): Promise<void> {
    const id = this.#nextId++
    const keys = this.#invokedKeys
    const key = keys[Math.floor(this.#options.random.next() * keys.length)] as string
    const consistent = this.#options.random.next() < 0.8
    const invokedAt = Date.now()
    const answer = await this.#call(`${target}/kv/${key}${consistent ? '?consistent=1' : ''}`, 'GET')
    const completedAt = Date.now()
    const base = { kind: 'read', id, client, key, consistent, invokedAt } as const
    let operation: ReadOperation
    if (answer.status === 200) {
      const body = answer.body as { value: unknown; position: number }
      operation = { ...base, completedAt, outcome: 'ok', found: { value: body.value, position: body.position } }
    } else if (answer.status === 404 && answer.code === 'KV_NOT_FOUND') {
      operation = { ...base, completedAt, outcome: 'ok', found: null }
    } else {
      operation = { ...base, completedAt, outcome: answer.outcome === 'ok' ? 'failed' : answer.outcome }
    }
    this.operations.push(operation)
  }

  async #scan(client: string, target: string, consistent: boolean): Promise<void> {
    const id = this.#nextId++
    const invokedAt = Date.now()
    const answer = await this.#call(`${target}/kv${consistent ? '?consistent=1' : ''}`, 'GET')
    const completedAt = Date.now()
    const base = { kind: 'scan', id, client, consistent, invokedAt, completedAt } as const
    let operation: ScanOperation
    if (answer.status === 200) {
      const body = answer.body as { position: number; entries: KvMap['entries'] }
      operation = { ...base, outcome: 'ok', map: { position: body.position, entries: body.entries } }
    } else {
      operation = { ...base, outcome: answer.outcome === 'ok' ? 'failed' : answer.outcome }
    }
    this.operations.push(operation)
  }

  async #call(
    url: string,
    method: string,
    body?: string,
  ): Promise<{ status: number; body: unknown; code: string | null; outcome: Outcome }> {
    try {
      const response = await fetch(url, {
        method,
        signal: AbortSignal.timeout(this.#options.timeoutMs),
        ...(body !== undefined && { body, headers: { 'content-type': 'application/json' } }),
      })
      const text = await response.text()
      let parsed: unknown = null
      try {
        parsed = JSON.parse(text)
      } catch {
        parsed = null
      }
      const code = (parsed as { error?: { code?: unknown } } | null)?.error?.code
      const codeText = typeof code === 'string' ? code : null
      if (response.status === 200) return { status: 200, body: parsed, code: null, outcome: 'ok' }
      const outcome: Outcome = codeText !== null && DEFINITELY_REFUSED.has(codeText) ? 'failed' : 'unknown'
      return { status: response.status, body: parsed, code: codeText, outcome }
    } catch (error) {
      // Refused connections never carried the request; anything else may have.
      const cause = (error as { cause?: { code?: unknown } }).cause
      const outcome: Outcome = cause?.code === 'ECONNREFUSED' ? 'failed' : 'unknown'
      return { status: 0, body: null, code: null, outcome }
    }
  }
}
