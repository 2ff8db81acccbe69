// The bounds every node:http server of the package sets on its clients: the
// colleague's peer server and the CLI's key-value server alike. Node's own
// defaults let a request take five minutes, and a connection that sends
// nothing at all, or stops in the middle of a body, stay open (its buffered
// bytes held) for as long as the client likes.

import type { Server } from 'node:http'

/** Longest a request may take from its first byte to its last, headers included. */
export const REQUEST_TIMEOUT_MS = 30_000
/** Longest a connection may go without a byte either way: one that sends nothing, or stalls mid-body, is closed. */
export const IDLE_SOCKET_MS = 30_000
/**
 * How often node:http checks the request and header bounds (its default is
 * 30 s, which would let a slow client hold a socket for twice the bound).
 */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000

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
  return server
}
