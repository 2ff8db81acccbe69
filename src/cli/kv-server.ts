// One node:http server per process: the kv routes under /kv, every other
// path to the colleague's own routes.

import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { closeServer } from '../colleague/close-server.js'
import { requestTarget } from '../colleague/request-target.js'
import { limitServer, REQUEST_TIMEOUT_MS, served, SERVER_OPTIONS } from '../colleague/server-limits.js'
import { createKvListener, isKvPath, type KvRoutesOptions, type RequestListener } from './kv-routes.js'

export { REQUEST_TIMEOUT_MS }

export interface KvServer {
  readonly server: Server
  /** Mounts the colleague's routes; until then they answer 503. */
  mountColleague(listener: RequestListener): void
  listen(host: string, port: number): Promise<{ host: string; port: number; url: string }>
  /** Stops accepting, ends idle and open connections; bounded by `timeoutMs`. */
  close(timeoutMs: number): Promise<void>
}

export function createKvServer(options: KvRoutesOptions): KvServer {
  const kv = createKvListener(options)
  let colleague: RequestListener | null = null
  const server = createServer(
    SERVER_OPTIONS,
    served((request, response) => {
      const pathname = requestTarget(request).split('?', 1)[0] ?? '/'
      if (isKvPath(pathname)) return kv(request, response)
      if (colleague !== null) return colleague(request, response)
      const body = JSON.stringify({ error: { code: 'KV_UNAVAILABLE', message: 'the colleague is not started yet' } })
      response.writeHead(503, { 'content-type': 'application/json; charset=utf-8' })
      response.end(body)
    }),
  )
  limitServer(server)
  return {
    server,
    mountColleague(listener) {
      colleague = listener
    },
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => {
          server.off('error', reject)
          const address = server.address() as AddressInfo
          resolve({ host, port: address.port, url: `http://${urlHost(host)}:${address.port}` })
        })
      })
    },
    close(timeoutMs) {
      return closeServer(server, timeoutMs)
    },
  }
}

/** The host to put in a URL: unspecified addresses become loopback, IPv6 gets brackets. */
export function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1'
  if (host === '::') return '[::1]'
  return host.includes(':') ? `[${host}]` : host
}
