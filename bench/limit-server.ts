// The limit: a bare node:http server that reads a PUT's body and answers
// 200 with an empty body. One round trip, no consensus, no JSON: the most
// any HTTP service on this machine can do for this client.
// Usage: node dist/bench/limit-server.js [port]; prints "listening URL".

import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

const server = createServer((request, response) => {
  request.on('data', () => {})
  request.on('end', () => {
    response.writeHead(200, { 'content-length': '0' })
    response.end()
  })
})
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  process.stdout.write(`listening http://127.0.0.1:${port}\n`)
})
process.on('SIGTERM', () => process.exit(0))
process.on('disconnect', () => process.exit(0))
