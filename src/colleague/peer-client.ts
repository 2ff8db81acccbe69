// Outbound HTTP to other colleagues: one keep-alive undici Pool per peer
// origin, every request signed when the island has a secret, every request
// bounded by a timeout. No retries here: callers decide what a failure means.

import { isUtf8 } from 'node:buffer'
import type { Dispatcher, Pool } from 'undici'
import type { Signer } from './signature.js'
import { undici } from './undici.js'

export const POOLS_MAX = 256
export const CONNECTIONS_PER_PEER = 4
export const CONNECT_TIMEOUT_MS = 5_000

export interface PostAnswer {
  readonly status: number
  readonly text: string
}

/**
 * Carries every request one colleague makes to another: kibitz batches (the
 * legislator's messages, submission and immigration forwarding among them),
 * a newcomer's join, and its out-of-band request. The body is JSON text; the
 * answer is an HTTP-like status and text, as the receiver's
 * `colleague.request(type, body)` produced it. A rejection means the request
 * or its answer was lost (unreachable, timed out). `PeerClient` is the HTTP
 * one; the simulator passes its own network here.
 */
export interface PeerTransport {
  post(location: string, route: PeerRoute, body: string, timeoutMs: number, overall?: boolean): Promise<PostAnswer>
  close(): Promise<void>
}

/** The routes one colleague POSTs to another. */
export type PeerRoute = '/kibitz' | '/join' | '/oob'

export interface PeerClientOptions {
  signer: Signer | null
  poolsMax?: number
  connectionsPerPeer?: number
  connectTimeoutMs?: number
}

export class PeerClient implements PeerTransport {
  private readonly signer: Signer | null
  private readonly poolsMax: number
  private readonly connectionsPerPeer: number
  private readonly connectTimeoutMs: number
  /** Origin to pool, least recently used first. */
  private readonly pools = new Map<string, Pool>()
  private readonly locations = new Map<string, { origin: string; path: string }>()
  private closed = false

  constructor(options: PeerClientOptions) {
    this.signer = options.signer
    this.poolsMax = options.poolsMax ?? POOLS_MAX
    this.connectionsPerPeer = options.connectionsPerPeer ?? CONNECTIONS_PER_PEER
    this.connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS
  }

  /**
   * POSTs `body` (JSON text) to `route` under `location` and returns the
   * status and body text. Rejects on connection failure or timeout: each of
   * connect, headers and body is bounded by `timeoutMs`, and with `overall`
   * the whole exchange too (an abort signal, which costs a timer per request,
   * so the hot kibitz path goes without it).
   */
  async post(location: string, route: PeerRoute, body: string, timeoutMs: number, overall = true): Promise<PostAnswer> {
    if (this.closed) throw new Error('peer client closed')
    const base = this.parse(location)
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (this.signer !== null) Object.assign(headers, this.signer.sign('POST', route, body))
    if (!overall) return this.dispatch(base.origin, `${base.path}${route}`, headers, body, timeoutMs)
    const response = await this.pool(base.origin).request({
      method: 'POST',
      path: `${base.path}${route}`,
      headers,
      body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(overall && { signal: AbortSignal.timeout(timeoutMs) }),
    })
    return { status: response.statusCode, text: answerText(Buffer.from(await response.body.arrayBuffer()), base.origin) }
  }

  /**
   * The hot path: undici's dispatch with a handler that gathers the answer's
   * bytes, without the stream and promises `request` and `body.text()` build
   * around every exchange. Each of headers and body is bounded by `timeoutMs`.
   */
  private dispatch(origin: string, path: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<PostAnswer> {
    return new Promise((resolve, reject) => {
      let status = 0
      let chunks: Buffer[] = []
      let length = 0
      const handler: Dispatcher.DispatchHandler = {
        // Its presence is how undici tells this handler API from the older one.
        onRequestStart() {},
        onResponseStart(_controller, statusCode) {
          // A 1xx comes before the real answer: only the last start counts.
          status = statusCode
          chunks = []
          length = 0
        },
        onResponseData(_controller, chunk) {
          chunks.push(chunk)
          length += chunk.length
        },
        onResponseEnd() {
          try {
            resolve({ status, text: answerText(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length), origin) })
          } catch (error) {
            reject(error)
          }
        },
        onResponseError(_controller, error) {
          reject(error)
        },
      }
      this.pool(origin).dispatch({ method: 'POST', path, headers, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }, handler)
    })
  }

  async close(): Promise<void> {
    this.closed = true
    const pools = [...this.pools.values()]
    this.pools.clear()
    await Promise.allSettled(pools.map((pool) => pool.destroy()))
  }

  /** A location's origin and path prefix, parsed once per location (each pooled origin keeps its entry). */
  private parse(location: string): { origin: string; path: string } {
    let parsed = this.locations.get(location)
    if (parsed === undefined) {
      const url = new URL(location)
      parsed = { origin: url.origin, path: url.pathname.replace(/\/+$/, '') }
      if (this.locations.size >= this.poolsMax) this.locations.clear()
      this.locations.set(location, parsed)
    }
    return parsed
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin)
    if (pool !== undefined) {
      this.pools.delete(origin)
      this.pools.set(origin, pool)
      return pool
    }
    pool = new (undici().Pool)(origin, {
      connections: this.connectionsPerPeer,
      keepAliveTimeout: 4_000,
      connect: { timeout: this.connectTimeoutMs },
    })
    this.pools.set(origin, pool)
    for (const [oldest, old] of this.pools) {
      if (this.pools.size <= this.poolsMax) break
      this.pools.delete(oldest)
      void old.close().catch(() => {})
    }
    return pool
  }
}

/**
 * An answer's bytes as text; an error when they are not UTF-8, which
 * decoding would turn into U+FFFD where the peer sent something else (an
 * out-of-band state would be restored altered). A colleague's answers are
 * always UTF-8: this is a broken or foreign peer, taken as a failed request.
 */
export function answerText(bytes: Buffer, from: string): string {
  if (!isUtf8(bytes)) throw new Error(`the answer from ${from} is not UTF-8`)
  return bytes.toString('utf8')
}
