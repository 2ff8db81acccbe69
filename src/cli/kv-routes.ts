// HTTP routes of the key-value application: PUT/GET/DELETE /kv/:key and
// GET /kv. Writes answer once committed and applied on this member.

import { isUtf8 } from 'node:buffer'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { JsonValue } from '../colleague/json.js'
import { BodiesBusy, BodyAborted, BodyBudget, BodyTooLarge, readBody } from '../colleague/read-body.js'
import { requestTarget } from '../colleague/request-target.js'
import { isKvKey, type KvOperation, type KvRecord, type KvStore } from './kv-store.js'

/** What the routes need from a colleague: the store's writer. */
export interface KvRoutesOptions {
  readonly store: KvStore
  /** Resolves once the value is committed and applied on this member. */
  readonly enqueue: (operation: KvOperation) => Promise<{ readonly position: number }>
  /** Resolves once every write committed before the call is applied here (`colleague.barrier()`). */
  readonly barrier: () => Promise<unknown>
  /** Bound on one write or barrier; past it the answer is 503 KV_TIMEOUT (the write may still apply). */
  readonly writeTimeoutMs?: number
  readonly bodyBytesMax?: number
  /** Bytes of bodies held while read, all connections together; past it a write answers 503 KV_BUSY. */
  readonly bodiesBytesMax?: number
  /**
   * Whether the store holds its island's state (the member founded or joined
   * its island, or resumed from its directory). Until then every route
   * answers 503 KV_UNAVAILABLE rather than read an empty store as the
   * island's. Always, when left out.
   */
  readonly available?: () => boolean
}

export type KvErrorCode =
  | 'KV_BAD_KEY'
  | 'KV_BAD_QUERY'
  | 'KV_BAD_JSON'
  | 'KV_BAD_TEXT'
  | 'KV_BODY_TOO_LARGE'
  | 'KV_NOT_FOUND'
  | 'KV_METHOD_NOT_ALLOWED'
  | 'KV_TIMEOUT'
  | 'KV_BUSY'
  | 'KV_UNAVAILABLE'

/** One table maps the kv application's error codes to HTTP statuses. */
export const KV_ERROR_STATUS: Readonly<Record<KvErrorCode, number>> = {
  KV_BAD_KEY: 400,
  KV_BAD_QUERY: 400,
  KV_BAD_JSON: 400,
  KV_BAD_TEXT: 400,
  KV_BODY_TOO_LARGE: 413,
  KV_NOT_FOUND: 404,
  KV_METHOD_NOT_ALLOWED: 405,
  KV_TIMEOUT: 503,
  KV_BUSY: 503,
  KV_UNAVAILABLE: 503,
}

export const BODY_BYTES_MAX = 64 * 1024
/** Default bound on the bytes of bodies read at once: 256 whole ones. */
export const BODIES_BYTES_MAX = 16 * 1024 * 1024
export const WRITE_TIMEOUT_MS = 10_000

class KvHttpError extends Error {
  constructor(
    readonly code: KvErrorCode,
    message: string,
  ) {
    super(message)
  }
}

export function isKvPath(pathname: string): boolean {
  return pathname === '/kv' || pathname.startsWith('/kv/')
}

export type RequestListener = (request: IncomingMessage, response: ServerResponse) => void

export function createKvListener(options: KvRoutesOptions): RequestListener {
  const writeTimeoutMs = options.writeTimeoutMs ?? WRITE_TIMEOUT_MS
  const bodyBytesMax = options.bodyBytesMax ?? BODY_BYTES_MAX
  const bodies = new BodyBudget(Math.max(bodyBytesMax, options.bodiesBytesMax ?? BODIES_BYTES_MAX))

  async function commit(operation: KvOperation): Promise<number> {
    return (await bounded(options.enqueue(operation))).position
  }

  async function barrier(): Promise<void> {
    await bounded(options.barrier())
  }

  /** `work`, or KV_TIMEOUT after writeTimeoutMs: one timer and one promise, no race between two. */
  function bounded<T>(work: Promise<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new KvHttpError('KV_TIMEOUT', `not committed within ${writeTimeoutMs} ms; it may still apply`)),
        writeTimeoutMs,
      )
      work.then(
        (value) => {
          clearTimeout(timer)
          resolve(value)
        },
        (error: unknown) => {
          clearTimeout(timer)
          reject(error)
        },
      )
    })
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (options.available?.() === false) {
      response.setHeader('retry-after', '1')
      throw new KvHttpError('KV_UNAVAILABLE', "this member has not joined its island yet: its store does not hold the island's state; retry, or ask another member")
    }
    // The target as sent, as the server chose this route by: dot segments are
    // not resolved, so `/kv/../x` is no key rather than another route's path.
    const target = requestTarget(request)
    const mark = target.indexOf('?')
    const pathname = mark < 0 ? target : target.slice(0, mark)
    // HEAD is GET without the body (node leaves the body out), as on every route the colleague serves.
    const method = request.method === 'HEAD' ? 'GET' : (request.method ?? 'GET')
    const whole = pathname === '/kv'
    const query = parseQuery(mark < 0 ? NO_PARAMS : new URLSearchParams(target.slice(mark + 1)), whole)
    const consistent = query.consistent
    if (whole) {
      if (method !== 'GET') throw methodNotAllowed(response, 'GET, HEAD')
      if (consistent) await barrier()
      const { store } = options
      const entries = store
        .entries()
        .filter(([key]) => key.startsWith(query.prefix))
        .map(([key, record]) => ({ key, ...record }))
      return send(response, 200, { position: store.position, count: entries.length, entries })
    }
    const key = parseKey(pathname.slice('/kv/'.length))
    switch (method) {
      case 'GET': {
        if (consistent) await barrier()
        const record = options.store.get(key)
        if (record === undefined) throw new KvHttpError('KV_NOT_FOUND', `no key ${JSON.stringify(key)}`)
        return send(response, 200, describe(key, record))
      }
      case 'PUT': {
        const value = await readValue(request, bodyBytesMax, bodies)
        const position = await commit({ kv: 'put', key, value })
        return send(response, 200, { key, value, position })
      }
      case 'DELETE': {
        await drain(request, bodyBytesMax, bodies)
        // Deleting nothing writes nothing: a key absent here answers 404 without a log entry
        // (after a barrier with consistent=1, so that a member that lags does not answer too soon).
        if (consistent && options.store.get(key) === undefined) await barrier()
        if (options.store.get(key) === undefined) throw new KvHttpError('KV_NOT_FOUND', `no key ${JSON.stringify(key)}`)
        const position = await commit({ kv: 'delete', key })
        return send(response, 200, { key, position })
      }
      default:
        throw methodNotAllowed(response, 'GET, HEAD, PUT, DELETE')
    }
  }

  return (request, response) => {
    route(request, response).catch((error: unknown) => {
      // A client that hung up mid-body has no one left to answer.
      if (error instanceof BodyAborted) response.destroy()
      else sendError(response, error)
    })
  }
}

function describe(key: string, record: KvRecord): { key: string; value: unknown; position: number } {
  return { key, value: record.value, position: record.position }
}

function methodNotAllowed(response: ServerResponse, allow: string): KvHttpError {
  response.setHeader('allow', allow)
  return new KvHttpError('KV_METHOD_NOT_ALLOWED', `allowed: ${allow}`)
}

const NO_PARAMS = new URLSearchParams()

interface KvQuery {
  readonly consistent: boolean
  /** `GET /kv` only: keys that start with it ('' for every key). */
  readonly prefix: string
}

/**
 * `consistent` everywhere, `prefix` on `GET /kv`, each at most once; anything
 * else is refused rather than ignored (a second value would be).
 */
function parseQuery(params: URLSearchParams, whole: boolean): KvQuery {
  const accepted = whole ? ['consistent', 'prefix'] : ['consistent']
  const seen = new Set<string>()
  for (const name of params.keys()) {
    if (!accepted.includes(name)) {
      throw new KvHttpError('KV_BAD_QUERY', `unknown query parameter ${JSON.stringify(name)}; this route takes ${accepted.join(' and ')}`)
    }
    if (seen.has(name)) throw new KvHttpError('KV_BAD_QUERY', `query parameter ${JSON.stringify(name)} is given more than once`)
    seen.add(name)
  }
  const prefix = params.get('prefix') ?? ''
  if (prefix.length > 0 && !isKvKey(prefix)) {
    throw new KvHttpError('KV_BAD_QUERY', 'prefix must be up to 256 characters of A-Z a-z 0-9 . _ ~ : @ -')
  }
  return { consistent: parseConsistent(params.get('consistent')), prefix }
}

function parseConsistent(text: string | null): boolean {
  if (text === null || text === '0' || text === 'false') return false
  if (text === '1' || text === 'true' || text === '') return true
  throw new KvHttpError('KV_BAD_QUERY', `consistent must be 1, true, 0 or false (empty means 1), got ${JSON.stringify(text)}`)
}

function parseKey(encoded: string): string {
  let key: string
  try {
    key = decodeURIComponent(encoded)
  } catch {
    throw new KvHttpError('KV_BAD_KEY', 'key is not valid percent-encoding')
  }
  if (!isKvKey(key)) {
    throw new KvHttpError('KV_BAD_KEY', 'a key is 1 to 256 characters of A-Z a-z 0-9 . _ ~ : @ -')
  }
  // A client that resolves URLs (fetch, a browser) could never name these again: it reads them as path segments.
  if (key === '.' || key === '..') throw new KvHttpError('KV_BAD_KEY', `a key cannot be ${key}, which URLs resolve as a path segment`)
  return key
}

async function readKvBody(request: IncomingMessage, bodyBytesMax: number, bodies: BodyBudget): Promise<Buffer> {
  try {
    return await readBody(request, bodyBytesMax, bodies)
  } catch (error) {
    if (error instanceof BodyTooLarge) throw new KvHttpError('KV_BODY_TOO_LARGE', `body over ${bodyBytesMax} bytes`)
    if (error instanceof BodiesBusy) throw new KvHttpError('KV_BUSY', `the bodies being read at once would exceed ${error.limit} bytes; retry later`)
    throw error
  }
}

async function drain(request: IncomingMessage, bodyBytesMax: number, bodies: BodyBudget): Promise<void> {
  await readKvBody(request, bodyBytesMax, bodies)
}

/** A JSON body (by content type) is parsed; anything else is kept as text. Either must be UTF-8. */
async function readValue(request: IncomingMessage, bodyBytesMax: number, bodies: BodyBudget): Promise<JsonValue> {
  const body = await readKvBody(request, bodyBytesMax, bodies)
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  const json = type === 'application/json' || type.endsWith('+json')
  // Decoding would replace each invalid sequence with U+FFFD: a value the client never sent.
  if (!isUtf8(body)) throw new KvHttpError(json ? 'KV_BAD_JSON' : 'KV_BAD_TEXT', 'body is not UTF-8')
  const text = body.toString('utf8')
  if (!json) return text
  try {
    return JSON.parse(text) as JsonValue
  } catch (error) {
    throw new KvHttpError('KV_BAD_JSON', `body is not JSON: ${error instanceof Error ? error.message : String(error)}`)
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) {
    response.end()
    return
  }
  const text = JSON.stringify(body)
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  })
  response.end(text)
}

/** Maps any error to `{ error: { code, message } }`: kv codes by table, colleague errors by their own status. */
export function errorStatus(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof KvHttpError) {
    return { status: KV_ERROR_STATUS[error.code], code: error.code, message: error.message }
  }
  const message = error instanceof Error ? error.message : String(error)
  if (typeof error === 'object' && error !== null) {
    const { code, status, statusCode } = error as { code?: unknown; status?: unknown; statusCode?: unknown }
    const given = typeof status === 'number' ? status : typeof statusCode === 'number' ? statusCode : null
    if (typeof code === 'string') {
      // A colleague that cannot take writes (no quorum, shut down, crashed) is unavailable, not broken.
      return { status: given !== null && given >= 400 && given < 600 ? given : 503, code, message }
    }
  }
  return { status: 500, code: 'KV_INTERNAL', message }
}

function sendError(response: ServerResponse, error: unknown): void {
  const { status, code, message } = errorStatus(error)
  if (status === 413) response.setHeader('connection', 'close')
  if (code === 'KV_BUSY') response.setHeader('retry-after', '1')
  send(response, status, { error: { code, message } })
}
