// Closing a node:http server within a bound: the colleague's peer server and
// the CLI's key-value server close alike.

import type { Server } from 'node:http'

/** While a server closes, how often connections that went idle are closed. */
const CLOSE_SWEEP_MS = 10

/**
 * Stops `server` accepting and resolves once it is closed. A keep-alive
 * connection whose request was under way at the call stays open once
 * answered: such connections are closed as they go idle, and whatever is
 * left after `graceMs` at once.
 */
export function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const sweep = setInterval(() => server.closeIdleConnections(), CLOSE_SWEEP_MS)
    const timer = setTimeout(() => server.closeAllConnections(), graceMs)
    server.close(() => {
      clearInterval(sweep)
      clearTimeout(timer)
      resolve()
    })
    server.closeIdleConnections()
  })
}
