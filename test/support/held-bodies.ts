// Clients that begin a body and stop in the middle of it, each holding its
// bytes on the server, and a bounded retry for what follows.

import { connect, type Socket } from 'node:net'
import { request } from 'node:http'

/** Opens `count` connections, each sending `sent` of a declared `declared` bytes of a POST to `path`, then waiting. */
export async function holdBodies(url: string, path: string, count: number, sent: number, declared: number, method = 'POST'): Promise<Socket[]> {
  const { hostname, port } = new URL(url)
  const sockets: Socket[] = []
  for (let index = 0; index < count; index++) {
    const socket = connect(Number(port), hostname)
    socket.on('error', () => {})
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    socket.write(`${method} ${path} HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: text/plain\r\ncontent-length: ${declared}\r\n\r\n${'y'.repeat(sent)}`)
    sockets.push(socket)
  }
  return sockets
}

export interface Answer {
  readonly status: number
  readonly retryAfter: string | undefined
  readonly body: any
}

/** One request with a text body; the answer's JSON body. Bounded at 5 s. */
export function post(url: string, path: string, body: string, method = 'POST'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const sent = request(new URL(path, url), { method, headers: { 'content-type': 'text/plain' }, timeout: 5_000 }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (text += chunk))
      response.on('end', () => {
        const retryAfter = response.headers['retry-after']
        resolve({ status: response.statusCode ?? 0, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, body: JSON.parse(text) })
      })
      response.on('error', reject)
    })
    sent.on('timeout', () => sent.destroy(new Error(`${method} ${path} timed out`)))
    sent.on('error', reject)
    sent.end(body)
  })
}

/** Calls `attempt` until `done` holds of its answer, at most until `withinMs` have passed; fails with the last answer. */
export async function retryUntil(attempt: () => Promise<Answer>, done: (answer: Answer) => boolean, withinMs: number): Promise<Answer> {
  const deadline = Date.now() + withinMs
  for (;;) {
    const answer = await attempt()
    if (done(answer)) return answer
    if (Date.now() > deadline) throw new Error(`not within ${withinMs} ms; last answer ${answer.status} ${JSON.stringify(answer.body)}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
