// The floor of a write that crosses two loopback HTTP hops, as ours does:
// a node:http server that, for each PUT, POSTs a small JSON body to two
// bare peers through an undici Pool each (as a leader sends its accepts)
// and answers 200 when the first of them has answered (a majority of
// three). No consensus, no log, no validation: what HTTP/1.1 on this
// machine costs a three-member design before it does any work of its own.
// Usage: node dist/bench/relay-server.js PEER_URL PEER_URL; prints "listening URL".

import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Pool } from 'undici'

const peers = process.argv.slice(2).map((url) => new Pool(url, { connections: 4, keepAliveTimeout: 4_000 }))
if (peers.length === 0) throw new Error('usage: relay-server.js PEER_URL [PEER_URL ...]')
const majority = Math.floor((peers.length + 1) / 2)

const server = createServer((request, response) => {
  const chunks: Buffer[] = []
  request.on('data', (chunk: Buffer) => chunks.push(chunk))
  request.on('end', () => {
    // About the size of an accept carrying one 100-byte value.
    const body = `{"messages":[{"type":"accept","entries":[{"position":1,"value":${JSON.stringify(Buffer.concat(chunks).toString('utf8'))}}]}]}`
    let answered = 0
    let failed = false
    for (const peer of peers) {
      peer.request({ method: 'POST', path: '/relay', body, headers: { 'content-type': 'application/json' } }).then(
        async (answer) => {
          await answer.body.text()
          if (++answered !== majority || failed) return
          response.writeHead(200, { 'content-length': '0' })
          response.end()
        },
        () => {
          if (failed) return
          failed = true
          response.writeHead(502, { 'content-length': '0' })
          response.end()
        },
      )
    }
  })
})
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  process.stdout.write(`listening http://127.0.0.1:${port}\n`)
})
process.on('SIGTERM', () => process.exit(0))
process.on('disconnect', () => process.exit(0))
