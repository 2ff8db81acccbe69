// Ports for member processes that are restarted on the same address.
//
// A port from `listen(0)` comes from the kernel's ephemeral range, the same
// range every outbound connection's local port comes from. Between a test
// closing such a port and a member binding it (or binding it again after a
// SIGKILL), a connection made by any concurrent test can take it, and the
// member fails with EADDRINUSE. Ports below the ephemeral range are handed out
// only to those who ask for them by number.

import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

const LOWEST = 10_000

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    return Number.isInteger(low) && low > LOWEST + 1_000 ? low : 32_768
  } catch {
    return 32_768
  }
}

const HIGHEST = ephemeralLow() - 1
const SPAN = HIGHEST - LOWEST + 1
/** Each test process starts at its own place in the range (by pid), and walks on from there. */
let next = (process.pid * 7_919) % SPAN

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, host, () => server.close(() => resolve(true)))
  })
}

/** A port below the ephemeral range that was free on `host` when asked. */
export async function reservedPort(host = '127.0.0.1'): Promise<number> {
  for (let tries = 0; tries < SPAN; tries++) {
    const port = LOWEST + (next++ % SPAN)
    if (await bindable(port, host)) return port
  }
  throw new Error(`no free port on ${host} between ${LOWEST} and ${HIGHEST}`)
}
