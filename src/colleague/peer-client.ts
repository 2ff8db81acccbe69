// Outbound HTTP to other colleagues: one keep-alive undici Pool per peer
// origin, every request signed when the island has a secret, every request
// bounded by a timeout. No retries here: callers decide what a failure means.

import { constants as bufferConstants, isUtf8 } from 'node:buffer'
import type { Dispatcher, Pool } from 'undici'
import type { Signer } from './signature.js'
import { undici } from './undici.js'

export const POOLS_MAX = 256
export const CONNECTIONS_PER_PEER = 4
export const CONNECT_TIMEOUT_MS = 5_000
/**
 * The largest answer to an out-of-band request (which carries the
 * application's state): as much as fits in one string, since the answer is
 * decoded into one. Answers to kibitz and join requests are bounded by
 * `answerBytesMax`.
 */
export const OUT_OF_BAND_ANSWER_BYTES_MAX = bufferConstants.MAX_STRING_LENGTH

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
  /**
   * The largest answer to a kibitz or join request, in bytes (a colleague
   * passes its `bodyBytesMax`: an answer is a body like any other); default
   * unbounded. A longer answer fails the request as soon as its bytes pass
   * the bound, before more of them are buffered.
   */
  answerBytesMax?: number
}

/** A peer's answer was longer than the bound for its route: the request failed, and the rest was not read. */
export class AnswerTooLarge extends Error {
  constructor(from: string, bytesMax: number) {
    super(`the answer from ${from} is over ${bytesMax} bytes`)
    this.name = 'AnswerTooLarge'
  }
}

export class PeerClient implements PeerTransport {
  private readonly signer: Signer | null
  private readonly poolsMax: number
  private readonly connectionsPerPeer: number
  private readonly connectTimeoutMs: number
  private readonly answerBytesMax: number
  /** Origin to pool, least recently used first. */
  private readonly pools = new Map<string, Pool>()
  private readonly locations = new Map<string, { origin: string; path: string }>()
  private closed = false

  constructor(options: PeerClientOptions) {
    this.signer = options.signer
    this.poolsMax = options.poolsMax ?? POOLS_MAX
    this.connectionsPerPeer = options.connectionsPerPeer ?? CONNECTIONS_PER_PEER
    this.connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS
    this.answerBytesMax = options.answerBytesMax ?? OUT_OF_BAND_ANSWER_BYTES_MAX
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
    const bytesMax = route === '/oob' ? OUT_OF_BAND_ANSWER_BYTES_MAX : this.answerBytesMax
    if (!overall) return this.dispatch(base.origin, `${base.path}${route}`, headers, body, timeoutMs, bytesMax)
    const response = await this.pool(base.origin).request({
      method: 'POST',
      path: `${base.path}${route}`,
      headers,
      body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(overall && { signal: AbortSignal.timeout(timeoutMs) }),
    })
    return { status: response.statusCode, text: answerText(await readAnswer(response.body, base.origin, bytesMax), base.origin) }
  }

  /**
   * The hot path: undici's dispatch with a handler that gathers the answer's
   * bytes, without the stream and promises `request` and `body.text()` build
   * around every exchange. Each of headers and body is bounded by `timeoutMs`.
   */
  private dispatch(origin: string, path: string, headers: Record<string, string>, body: string, timeoutMs: number, bytesMax: number): Promise<PostAnswer> {
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
        onResponseData(controller, chunk) {
          length += chunk.length
          if (length > bytesMax) {
            // Aborting ends in onResponseError, which rejects.
            chunks = []
            controller.abort(new AnswerTooLarge(origin, bytesMax))
            return
          }
          chunks.push(chunk)
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

/** An answer's body, read whole unless it grows past `bytesMax`: then the body is destroyed and the read fails. */
async function readAnswer(body: Dispatcher.ResponseData['body'], from: string, bytesMax: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of body as AsyncIterable<Buffer>) {
    length += chunk.length
    if (length > bytesMax) {
      const error = new AnswerTooLarge(from, bytesMax)
      body.destroy(error)
      throw error
    }
    chunks.push(chunk)
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length)
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
