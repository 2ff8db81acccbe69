// A minimal Server-Sent Events reader for tests: one raw HTTP connection (no
// pooling, so each stream is its own socket), the `data:` events parsed as
// JSON, every wait bounded.

import { get, type IncomingMessage } from 'node:http'

export interface OpenStream {
  readonly status: number
  readonly headers: IncomingMessage['headers']
  /** The body of a refused stream (JSON), empty for an open one. */
  readonly refusal: string
  /** Every event received so far, parsed. */
  readonly events: unknown[]
  /** Resolves with the first event (past or future) that `predicate` accepts; rejects after `timeoutMs`. */
  until(predicate: (event: unknown) => boolean, timeoutMs: number, what: string): Promise<unknown>
  /** Resolves once the server ended the stream; rejects after `timeoutMs`. */
  ended(timeoutMs: number): Promise<void>
  close(): void
}

export function openStream(url: string, timeoutMs = 10_000): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false, headers: { accept: 'text/event-stream' } }, (response) => {
      clearTimeout(timer)
      const events: unknown[] = []
      const waiting = new Set<() => void>()
      let ended = false
      let buffer = ''
      let refusal = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => {
        if (response.statusCode !== 200) {
          refusal += chunk
          return
        }
        buffer += chunk
        let split: number
        while ((split = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, split)
          buffer = buffer.slice(split + 2)
          const data = block
            .split('\n')
            .filter((line) => line.startsWith('data: '))
            .map((line) => line.slice(6))
            .join('\n')
          if (data !== '') events.push(JSON.parse(data) as unknown)
        }
        for (const wake of waiting) wake()
      })
      const finish = (): void => {
        ended = true
        for (const wake of waiting) wake()
      }
      response.on('end', finish)
      response.on('close', finish)
      response.on('error', finish)
      const wait = (done: () => boolean, ms: number, what: string): Promise<void> =>
        new Promise((resolveWait, rejectWait) => {
          if (done()) return resolveWait()
          const check = (): void => {
            if (!done()) return
            clearTimeout(limit)
            waiting.delete(check)
            resolveWait()
          }
          const limit = setTimeout(() => {
            waiting.delete(check)
            rejectWait(new Error(`no ${what} within ${ms} ms (${events.length} events seen)`))
          }, ms)
          waiting.add(check)
        })
      const stream: OpenStream = {
        status: response.statusCode ?? 0,
        headers: response.headers,
        get refusal() {
          return refusal
        },
        events,
        async until(predicate, ms, what) {
          let found: unknown
          await wait(() => {
            found = events.find(predicate)
            return found !== undefined || ended
          }, ms, what)
          if (found === undefined) throw new Error(`the stream ended before ${what}`)
          return found
        },
        ended: (ms) => wait(() => ended, ms, 'end of the stream'),
        close: () => request.destroy(),
      }
      if (response.statusCode !== 200) response.on('end', () => resolve(stream))
      else resolve(stream)
    })
    const timer = setTimeout(() => request.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)), timeoutMs)
    request.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
  })
}
