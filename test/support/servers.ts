// Loopback HTTP servers that tests stand in front of, or in place of, a member.

import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Listens on a free loopback port; resolves with the server's URL. */
export async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Closes the server and every connection it still holds. */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
}

/** An unused loopback URL: nothing listens there, and a connection to it is refused at once. */
export async function deadUrl(): Promise<string> {
  const server = createServer()
  const url = await listen(server)
  await closeServer(server)
  return url
}
