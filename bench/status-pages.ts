// Holds N status pages open against one member, as N browsers would: each an
// own connection to GET /status/events, read and discarded. Prints
// "open N" once every stream has delivered its first event, then, on stdin's
// end or SIGTERM, "events E" (the events received) and exits.
// Usage: node dist/bench/status-pages.js URL N

import { get, type ClientRequest } from 'node:http'

const OPEN_TIMEOUT_MS = 20_000

async function main(): Promise<void> {
  const url = process.argv[2] ?? ''
  const pages = Number(process.argv[3] ?? '100')
  if (!/^http:\/\//.test(url) || !Number.isInteger(pages) || pages < 1) throw new Error('usage: status-pages.js URL N')
  const requests: ClientRequest[] = []
  let events = 0
  const opened = Array.from(
    { length: pages },
    () =>
      new Promise<void>((resolve, reject) => {
        const request = get(`${url}/status/events`, { agent: false }, (response) => {
          if (response.statusCode !== 200) return reject(new Error(`stream refused: ${response.statusCode}`))
          response.setEncoding('utf8')
          let first = true
          response.on('data', (chunk: string) => {
            // Events are separated by a blank line; a chunk may hold several or part of one.
            events += chunk.split('\n\n').length - 1
            if (first && chunk.includes('data: ')) {
              first = false
              resolve()
            }
          })
        })
        request.on('error', reject)
        requests.push(request)
      }),
  )
  const timer = setTimeout(() => {
    process.stderr.write(`not every stream opened within ${OPEN_TIMEOUT_MS} ms\n`)
    process.exit(1)
  }, OPEN_TIMEOUT_MS)
  await Promise.all(opened)
  clearTimeout(timer)
  process.stdout.write(`open ${pages}\n`)
  const finish = (): void => {
    for (const request of requests) request.destroy()
    process.stdout.write(`events ${events}\n`, () => process.exit(0))
  }
  process.stdin.on('end', finish)
  process.stdin.resume()
  process.on('SIGTERM', finish)
}

main().catch((error: unknown) => {
  process.stderr.write(`status-pages failed: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
