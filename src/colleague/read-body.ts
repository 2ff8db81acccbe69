// Reading a request body whole, within a limit: the one reader behind the
// peer routes and the key-value routes.

import type { IncomingMessage } from 'node:http'

/** The body was over its limit, declared or as it arrived; the rest is drained so that an answer can still go out. */
export class BodyTooLarge extends Error {
  override readonly name = 'BodyTooLarge'
  readonly limit: number

  constructor(limit: number) {
    super(`body exceeds ${limit} bytes`)
    this.limit = limit
  }
}

/** The client went away before its body was whole: nobody is left to answer. */
export class BodyAborted extends Error {
  override readonly name = 'BodyAborted'

  constructor(cause: unknown) {
    super('the client closed the connection before its body was whole', { cause })
  }
}

/** Read with events rather than an async iterator, which costs a promise per chunk. */
export function readBody(request: IncomingMessage, bodyBytesMax: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? 0)
  if (declared > bodyBytesMax) {
    request.resume()
    return Promise.reject(new BodyTooLarge(bodyBytesMax))
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let length = 0
    const onData = (chunk: Buffer): void => {
      length += chunk.length
      if (length > bodyBytesMax) {
        request.off('data', onData)
        request.resume()
        chunks.length = 0
        reject(new BodyTooLarge(bodyBytesMax))
        return
      }
      chunks.push(chunk)
    }
    request.on('data', onData)
    request.once('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length)))
    request.once('error', (error) => reject(new BodyAborted(error)))
  })
}
