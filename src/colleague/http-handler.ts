// Maps HTTP routes onto `colleague.request(type, body)`. Reads the body with
// a size limit and as UTF-8, checks the signature when the island has a
// secret, parses JSON, and turns every ColleagueError into its status and a
// JSON error body.
// Nothing reaches the colleague unless all of that passed.

import { isUtf8 } from 'node:buffer'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ColleagueError, isColleagueError } from './errors.js'
import type { PinoLikeLogger } from './logger.js'
import { BodiesBusy, BodyAborted, BodyTooLarge, readBody as readBytes, type BodyBudget } from './read-body.js'
import { requestTarget } from './request-target.js'
import { HEAD_SIGNATURE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, type Signer } from './signature.js'

export type RequestType = 'health' | 'kibitz' | 'join' | 'bootstrap' | 'shutdown' | 'oob'

export const REQUEST_TYPES: readonly RequestType[] = Object.freeze(['health', 'kibitz', 'join', 'bootstrap', 'shutdown', 'oob'] as const)

interface Route {
  readonly method: 'GET' | 'POST'
  readonly type: RequestType
}

const ROUTES: ReadonlyMap<string, Route> = new Map([
  ['/health', { method: 'GET', type: 'health' }],
  ['/kibitz', { method: 'POST', type: 'kibitz' }],
  ['/join', { method: 'POST', type: 'join' }],
  ['/bootstrap', { method: 'POST', type: 'bootstrap' }],
  ['/shutdown', { method: 'POST', type: 'shutdown' }],
  ['/oob', { method: 'POST', type: 'oob' }],
])

export type RequestListener = (request: IncomingMessage, response: ServerResponse) => void

export interface HandlerOptions {
  dispatch(type: RequestType, body: unknown): Promise<unknown>
  signer: Signer | null
  bodyBytesMax: number
  /** Bytes of bodies held while read, all connections together (`bodiesBytesMax`). */
  bodies?: BodyBudget
  logger: PinoLikeLogger
  /** Counts requests refused before dispatch (bad route, size, signature, JSON). */
  onRefused(error: ColleagueError): void
  /** Routes served outside `request()` (the status page and its events); true when it took the request. */
  extraRoutes?(pathname: string, request: IncomingMessage, response: ServerResponse): boolean
  /** `GET /metrics`: the Prometheus exposition, outside the JSON request dispatch. */
  metrics?(): Promise<{ readonly contentType: string; readonly text: string }>
}

/** The Prometheus scrape route; like /health it needs no signature. */
export const METRICS_ROUTE = '/metrics'

export function createHandler(options: HandlerOptions): RequestListener {
  return (request, response) => {
    handle(options, request, response).catch((error: unknown) => {
      if (error instanceof BodyAborted) {
        // A client that hung up mid-body: nothing went wrong here, and no one is left to answer.
        options.logger.debug({ route: request.url }, 'request aborted by the client')
        response.destroy()
        return
      }
      options.logger.error({ err: error }, 'http handler failed')
      if (!response.headersSent) send(response, 500, new ColleagueError('INTERNAL', 'internal error').toBody())
      else response.destroy()
    })
  }
}

async function handle(options: HandlerOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const pathname = requestTarget(request).split('?', 1)[0] ?? '/'
  if (options.extraRoutes?.(pathname, request, response) === true) return
  if (pathname === METRICS_ROUTE && options.metrics !== undefined) return serveMetrics(options, request, response, options.metrics)
  const route = ROUTES.get(pathname)
  try {
    if (route === undefined) throw refuse(options, new ColleagueError('UNKNOWN_REQUEST', `no route ${pathname}`))
    // HEAD is GET without the body (node leaves the body out), as on the status routes.
    if (request.method !== route.method && !(request.method === 'HEAD' && route.method === 'GET')) {
      const allow = route.method === 'GET' ? 'GET, HEAD' : route.method
      response.setHeader('allow', allow)
      throw refuse(options, new ColleagueError('METHOD_NOT_ALLOWED', `${pathname} takes ${allow}`))
    }
    const body = route.method === 'GET' ? undefined : await readBody(options, request, response, pathname)
    const result = await options.dispatch(route.type, body)
    if (result === undefined) {
      response.writeHead(204).end()
    } else {
      send(response, 200, result)
    }
  } catch (error) {
    if (!isColleagueError(error)) throw error
    // A 503 is a state this colleague is in (shut down, crashed, its queue full), said already where it
    // began: its peers meet it at every ping, so it is no warning each time. A failure here is one.
    if (error.status >= 500 && error.status !== 503) options.logger.warn({ err: error, route: pathname }, 'request failed')
    else options.logger.debug({ code: error.code, route: pathname, message: error.message }, 'request refused')
    send(response, error.status, error.toBody())
  }
}

async function serveMetrics(
  options: HandlerOptions,
  request: IncomingMessage,
  response: ServerResponse,
  metrics: NonNullable<HandlerOptions['metrics']>,
): Promise<void> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD')
    const error = refuse(options, new ColleagueError('METHOD_NOT_ALLOWED', `${METRICS_ROUTE} takes GET, HEAD`))
    send(response, error.status, error.toBody())
    return
  }
  const { contentType, text } = await metrics()
  response.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) })
  response.end(text)
}

async function readBody(options: HandlerOptions, request: IncomingMessage, response: ServerResponse, route: string): Promise<unknown> {
  const { signer } = options
  if (
    signer !== null &&
    !signer.verifyHead('POST', route, request.headers[TIMESTAMP_HEADER], request.headers[HEAD_SIGNATURE_HEADER], request.headers['content-length'])
  ) {
    // Refused before any of its body is read: none of its bytes is held, and
    // the connection closes after the answer rather than drain the rest.
    response.shouldKeepAlive = false
    throw refuse(options, unauthorized())
  }
  const bytes = await readBytes(request, options.bodyBytesMax, options.bodies).catch((error: unknown) => {
    if (error instanceof BodyTooLarge) throw refuse(options, tooLarge(error.limit))
    if (error instanceof BodiesBusy) {
      response.setHeader('retry-after', '1')
      throw refuse(options, new ColleagueError('BODIES_BUSY', `the bodies being read at once would exceed ${error.limit} bytes; retry later`))
    }
    throw error
  })
  // On a signed island the body's own signature is checked before anything it holds: a body that is
  // not the one its head was signed for is 401 whatever it holds, and a stranger learns nothing of how it was read.
  const text = bytes.toString('utf8')
  if (signer !== null) {
    const ok = signer.verify('POST', route, text, request.headers[TIMESTAMP_HEADER], request.headers[SIGNATURE_HEADER])
    if (!ok) throw refuse(options, unauthorized())
  }
  // Refused, not decoded with U+FFFD in place of its invalid bytes.
  if (!isUtf8(bytes)) throw refuse(options, new ColleagueError('INVALID_JSON', 'body is not UTF-8 JSON'))
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw refuse(options, new ColleagueError('INVALID_JSON', 'body is not JSON', { cause: error }))
  }
}

function unauthorized(): ColleagueError {
  return new ColleagueError('UNAUTHORIZED', 'missing, wrong, stale or replayed signature')
}

function tooLarge(limit: number): ColleagueError {
  return new ColleagueError('BODY_TOO_LARGE', `body exceeds ${limit} bytes`)
}

function refuse(options: HandlerOptions, error: ColleagueError): ColleagueError {
  options.onRefused(error)
  return error
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  })
  response.end(text)
}
