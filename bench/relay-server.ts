// The floor of a write that crosses two loopback HTTP hops, as ours does,
// batched as ours is: a node:http server that gathers the PUTs of one turn
// of the event loop (a setImmediate, as the kibitzer defers its flush) and
// POSTs them as one small JSON body to each of two bare peers, through one
// undici connection each; what arrives while a peer's POST is out waits and
// goes in the next, one POST in flight per peer (as the kibitzer sends). A
// PUT is answered 200 once the first peer answered the POST that carried it
// (a majority of three). No consensus, no log, no validation: what HTTP/1.1
// on this machine costs a three-member design that batches like ours before
// it does any work of its own. At one client each POST carries one write.
// Usage: node dist/bench/relay-server.js PEER_URL PEER_URL; prints "listening URL".

import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Pool } from 'undici'

interface Write {
  readonly value: string
  readonly response: ServerResponse
  acks: number
  failures: number
  answered: boolean
}

interface Peer {
  readonly pool: Pool
  queue: Write[]
  sending: boolean
}

const peers: Peer[] = process.argv.slice(2).map((url) => ({ pool: new Pool(url, { connections: 1, keepAliveTimeout: 4_000 }), queue: [], sending: false }))
if (peers.length === 0) throw new Error('usage: relay-server.js PEER_URL [PEER_URL ...]')
const majority = Math.floor((peers.length + 1) / 2)
let flushScheduled = false

function answer(write: Write, status: number): void {
  if (write.answered) return
  write.answered = true
  write.response.writeHead(status, { 'content-length': '0' })
  write.response.end()
}

function send(peer: Peer): void {
  if (peer.sending || peer.queue.length === 0) return
  const batch = peer.queue
  peer.queue = []
  peer.sending = true
  // About the size of an accept carrying these values.
  const entries = batch.map((write, index) => `{"position":${index},"ballot":{"round":1,"id":"relay"},"value":${JSON.stringify(write.value)}}`)
  const body = `{"messages":[{"type":"accept","entries":[${entries.join(',')}]}]}`
  peer.pool.request({ method: 'POST', path: '/relay', body, headers: { 'content-type': 'application/json' } }).then(
    async (response) => {
      await response.body.text()
      for (const write of batch) if (++write.acks === majority) answer(write, 200)
      peer.sending = false
      send(peer)
    },
    () => {
      // 502 once a majority can no longer answer.
      for (const write of batch) if (++write.failures > peers.length - majority) answer(write, 502)
      peer.sending = false
      send(peer)
    },
  )
}

function flush(): void {
  flushScheduled = false
  for (const peer of peers) send(peer)
}

const server = createServer((request, response) => {
  const chunks: Buffer[] = []
  request.on('data', (chunk: Buffer) => chunks.push(chunk))
  request.on('end', () => {
    const write: Write = { value: Buffer.concat(chunks).toString('utf8'), response, acks: 0, failures: 0, answered: false }
    for (const peer of peers) peer.queue.push(write)
    if (!flushScheduled) {
      flushScheduled = true
      setImmediate(flush)
    }
  })
})
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  process.stdout.write(`listening http://127.0.0.1:${port}\n`)
})
process.on('SIGTERM', () => process.exit(0))
process.on('disconnect', () => process.exit(0))
