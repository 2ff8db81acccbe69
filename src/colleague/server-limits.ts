// The bounds every node:http server of the package sets on its clients: the
// colleague's peer server and the CLI's key-value server alike. Node's own
// defaults let a request take five minutes, and a connection that sends
// nothing at all, or stops in the middle of a body, stay open (its buffered
// bytes held) for as long as the client likes.

import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { ColleagueError } from './errors.js'

/** Longest a request may take from its first byte to its last, headers included. */
export const REQUEST_TIMEOUT_MS = 30_000
/** Longest a connection may go without a byte either way: one that sends nothing, or stalls mid-body, is closed. */
export const IDLE_SOCKET_MS = 30_000
/**
 * How often node:http checks the request and header bounds (its default is
 * 30 s, which would let a slow client hold a socket for twice the bound).
 */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000

/**
 * What every server of the package is created with: the bounds checked every
 * second, and a request without a Host header let through to `served`, which
 * refuses it with the JSON error (node's own check answers a bare 400).
 */
export const SERVER_OPTIONS = { connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS, requireHostHeader: false } as const

export interface ServerLimits {
  readonly requestTimeoutMs?: number
  readonly idleSocketMs?: number
}

/** Applies the bounds to `server` (made with `connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS`). */
export function limitServer(server: Server, limits: ServerLimits = {}): Server {
  const requestTimeoutMs = limits.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
  server.requestTimeout = requestTimeoutMs
  server.headersTimeout = Math.min(server.headersTimeout, requestTimeoutMs)
  // With no 'timeout' listener, node:http destroys a socket idle this long.
  server.timeout = limits.idleSocketMs ?? IDLE_SOCKET_MS
  // A client may half-close once its request is sent (shutdown(SHUT_WR), `nc -N`, some
  // HTTP/1.0 tools). By default node:http then drops every request not yet answered and
  // ends the connection: a write that takes a round of consensus would commit with no
  // answer. Half-open, the request is answered and the connection ends after it.
  ;(server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true
  server.on('clientError', answerClientError)
  server.on('checkExpectation', refuseExpectation)
  return server
}

type Listener = (request: IncomingMessage, response: ServerResponse) => void

/**
 * `listener` with the requests of one connection handled one at a time, in
 * the order they came. node:http hands a client's pipelined requests to the
 * listener at once; their answers leave in order, but a `GET` or `DELETE`
 * pipelined behind a `PUT` read the store before the write was applied (a
 * PUT, GET, DELETE, GET of one key answered 200, 404, 404, 404 and left the
 * key written). HTTP/1.1 lets a server work on pipelined requests together
 * only when all of them are safe (RFC 9112, 9.3.2). node:http gives a
 * response its connection only once the answer before it has ended: a
 * request whose response has none yet waits for it. A request queued on a
 * connection that closes first is never handled, as no one could be told.
 */
export function inOrder(listener: Listener): Listener {
  return (request, response) => {
    if (response.socket !== null) listener(request, response)
    else response.once('socket', () => listener(request, response))
  }
}

/**
 * The listener a server of the package runs: requests one at a time (see
 * `inOrder`), and an HTTP/1.1 request without a Host header (RFC 9112, 3.2)
 * refused with 400 MALFORMED_REQUEST and its JSON body, the connection closed.
 */
export function served(listener: Listener): Listener {
  return inOrder((request, response) => {
    if (request.headers.host !== undefined || request.httpVersionMajor !== 1 || request.httpVersionMinor === 0) return listener(request, response)
    refuseAndClose(response, new ColleagueError('MALFORMED_REQUEST', 'an HTTP/1.1 request needs a Host header'))
  })
}

/** Answers `refusal` with its JSON body and closes the connection: the rest of the request is not read. */
function refuseAndClose(response: ServerResponse, refusal: ColleagueError): void {
  const text = JSON.stringify(refusal.toBody())
  response.writeHead(refusal.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), connection: 'close' })
  response.end(text)
}

/**
 * A request whose `Expect` header is not `100-continue` (which node:http
 * meets itself) never reaches the routes. Without this listener node answers
 * a bare 417; this one sends the JSON error every other refusal has, and
 * closes the connection, since the body, sent or held back, is not read.
 */
function refuseExpectation(_request: IncomingMessage, response: ServerResponse): void {
  refuseAndClose(response, new ColleagueError('EXPECTATION_FAILED', 'this server meets no Expect header but 100-continue'))
}

/**
 * What node:http could not take as a request (not HTTP, headers past its
 * bound, a request not whole in time) gets the JSON error body every other
 * refusal has, instead of node's bare status line. As node does, it answers
 * only on a connection where nothing was written yet (a response under way
 * must not be cut into), and closes the connection either way.
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable || (socket as Duplex & { bytesWritten?: number }).bytesWritten !== 0) {
    socket.destroy()
    return
  }
  const refusal = clientRefusal(error)
  const text = JSON.stringify(refusal.toBody())
  socket.write(
    `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? ''}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  )
  // Closed at once, as node closes it: ending only our side would leave the connection to a client
  // that never closes its own (a slow-loris one) open for as long as it likes.
  socket.destroy()
}

function clientRefusal(error: Error & { code?: string }): ColleagueError {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new ColleagueError('HEADERS_TOO_LARGE', 'the request headers exceed the server bound')
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ColleagueError('REQUEST_TIMEOUT', 'the request was not whole within the server bound')
    default:
      return new ColleagueError('MALFORMED_REQUEST', `not an HTTP/1.1 request this server can read (${error.code ?? 'unknown'})`)
  }
}
