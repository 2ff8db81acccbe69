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

/**
 * The bodies being read at once would hold more than the server's budget:
 * this one is refused (the rest of it drained, not kept) so that an answer
 * can still go out.
 */
export class BodiesBusy extends Error {
  override readonly name = 'BodiesBusy'
  readonly limit: number

  constructor(limit: number) {
    super(`the bodies being read at once would exceed ${limit} bytes`)
    this.limit = limit
  }
}

/**
 * Bytes of request bodies held while they are read, all connections of a
 * server together. Each connection may hold one body of up to its own bound;
 * without a budget, as many connections as a client opens may each hold one.
 * Bytes count as they arrive, not as declared: a client that only promises a
 * large body holds nothing.
 */
export class BodyBudget {
  readonly bytesMax: number
  #held = 0

  constructor(bytesMax: number) {
    this.bytesMax = bytesMax
  }

  /** Bytes held now. */
  get held(): number {
    return this.#held
  }

  /** Takes `bytes` if they fit. */
  take(bytes: number): boolean {
    if (this.#held + bytes > this.bytesMax) return false
    this.#held += bytes
    return true
  }

  give(bytes: number): void {
    this.#held -= bytes
  }
}

/**
 * Read with events rather than an async iterator, which costs a promise per
 * chunk. With a `budget`, the body's bytes are held against it while it is
 * read, and given back once it is whole or refused.
 */
export function readBody(request: IncomingMessage, bodyBytesMax: number, budget?: BodyBudget): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? 0)
  if (declared > bodyBytesMax) {
    request.resume()
    return Promise.reject(new BodyTooLarge(bodyBytesMax))
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let length = 0
    let held = 0
    const release = (): void => {
      if (held === 0) return
      budget?.give(held)
      held = 0
    }
    const refuse = (error: Error): void => {
      request.off('data', onData)
      request.resume()
      chunks.length = 0
      release()
      reject(error)
    }
    const onData = (chunk: Buffer): void => {
      length += chunk.length
      if (length > bodyBytesMax) return refuse(new BodyTooLarge(bodyBytesMax))
      if (budget !== undefined) {
        if (!budget.take(chunk.length)) return refuse(new BodiesBusy(budget.bytesMax))
        held += chunk.length
      }
      chunks.push(chunk)
    }
    request.on('data', onData)
    request.once('end', () => {
      release()
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length))
    })
    request.once('error', (error) => {
      release()
      reject(new BodyAborted(error))
    })
    // A connection closed mid-body may end the request without an error: its bytes are given back all the same.
    request.once('close', release)
  })
}
