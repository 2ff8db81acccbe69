// A raw HTTP/1.1 client over node:net, so the fuzzer can send what no
// well-behaved client would: any method, path and header, a body framed by
// Content-Length or chunked encoding or not at all, any content type.

import { connect } from 'node:net'

export type Framing = 'length' | 'chunked' | 'none'

export interface RawRequest {
  readonly method: string
  readonly path: string
  readonly headers?: ReadonlyArray<readonly [string, string]>
  readonly body?: Buffer
  readonly framing?: Framing
  /** Split a chunked body into chunks of this many bytes (default 16 KiB). */
  readonly chunkBytes?: number
}

export interface RawAnswer {
  /** Null when the server cut the connection (or we timed out) before a status line. */
  readonly status: number | null
  readonly text: string
  readonly error: string | null
}

const ANSWER_BYTES_MAX = 64 * 1024

export function rawRequest(port: number, request: RawRequest, timeoutMs: number, host = '127.0.0.1'): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, host)
    const received: Buffer[] = []
    let size = 0
    let settled = false
    const finish = (error: string | null): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      const text = Buffer.concat(received).toString('latin1')
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text)
      resolve({ status: match?.[1] === undefined ? null : Number(match[1]), text, error })
    }
    const timer = setTimeout(() => finish('timeout'), timeoutMs)
    socket.on('data', (chunk: Buffer) => {
      if (size < ANSWER_BYTES_MAX) received.push(chunk)
      size += chunk.length
      // With connection: close the server ends the socket after the answer; a complete
      // answer with a content-length is enough too.
      const text = Buffer.concat(received).toString('latin1')
      const head = text.indexOf('\r\n\r\n')
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, head))
      if (head >= 0 && length?.[1] !== undefined && Buffer.byteLength(text, 'latin1') >= head + 4 + Number(length[1])) finish(null)
      if (head >= 0 && /^HTTP\/1\.[01] 204/.test(text)) finish(null)
    })
    socket.on('end', () => finish(null))
    // A server that answers early (413, 400) and closes makes our writes fail with EPIPE or a
    // reset; its answer may still be in the buffer, so read on until the socket closes.
    let failure: string | null = null
    socket.on('error', (error: NodeJS.ErrnoException) => {
      failure ??= error.code ?? error.message
    })
    socket.on('close', () => finish(failure))
    socket.on('connect', () => {
      const body = request.body ?? Buffer.alloc(0)
      const framing = request.framing ?? 'length'
      const lines = [`${request.method} ${request.path} HTTP/1.1`, `host: ${host}:${port}`, 'connection: close']
      for (const [name, value] of request.headers ?? []) lines.push(`${name}: ${value}`)
      if (framing === 'length') lines.push(`content-length: ${body.length}`)
      if (framing === 'chunked') lines.push('transfer-encoding: chunked')
      socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1')
      if (framing === 'chunked') {
        const step = request.chunkBytes ?? 16 * 1024
        for (let offset = 0; offset < body.length; offset += step) {
          const chunk = body.subarray(offset, offset + step)
          socket.write(`${chunk.length.toString(16)}\r\n`)
          socket.write(chunk)
          socket.write('\r\n')
        }
        socket.write('0\r\n\r\n')
      } else if (body.length > 0 && framing === 'length') {
        socket.write(body)
      }
    })
  })
}
