import type { IncomingMessage } from 'node:http'

/** `http://host:port` at the start of an absolute-form target, any case (RFC 9112, 3.2.2). */
const ORIGIN = /^https?:\/\/[^/?#]*/i

/**
 * The request's target in origin form (`/path?query`), as sent: a client
 * talking to a proxy, or one that does, may send the absolute form
 * (`http://host/path`), which a server must take as the same path. Dot
 * segments are left as they are: a route is chosen by the path as sent.
 */
export function requestTarget(request: IncomingMessage): string {
  const url = request.url ?? '/'
  if (url.startsWith('/')) return url
  const origin = ORIGIN.exec(url)
  if (origin === null) return url
  const rest = url.slice(origin[0].length)
  return rest.startsWith('/') ? rest : `/${rest}`
}
