// What schema validation costs on the /kibitz hot path, next to JSON.parse
// of the same body. Usage: node dist/bench/kibitz-validate.js

import { validators } from '../src/colleague/schemas.js'
import type { Accepted, Message } from '../src/paxos/types.js'

const ballot = { round: 3, id: 'b0' }

function acceptBody(entries: number): string {
  const accepted: Accepted[] = Array.from({ length: entries }, (_, index) => ({
    position: 1000 + index,
    ballot,
    entry: { type: 'value', submission: { from: 'b1', seq: index + 1, value: JSON.stringify({ kv: 'put', key: `k${index % 64}`, value: 'x'.repeat(100) }) } },
  }))
  const message: Message = { type: 'accept', ballot, entries: accepted, chosen: [], commit: 999, trim: 0 }
  return JSON.stringify({ islandName: 'bench', islandId: 'c0ffee', from: 'b0', to: 'b1', messages: [message] })
}

function acceptedBody(): string {
  const message: Message = { type: 'accepted', ballot, ranges: [{ from: 1000, to: 1255 }], commit: 999 }
  return JSON.stringify({ islandName: 'bench', islandId: 'c0ffee', from: 'b1', to: 'b0', messages: [message] })
}

function measure(label: string, text: string, iterations: number): void {
  const parsed = JSON.parse(text) as unknown
  if (!validators.kibitz.Check(parsed)) throw new Error(`${label}: the sample body is invalid`)
  for (let index = 0; index < iterations / 10; index++) validators.kibitz.Check(JSON.parse(text))
  let start = performance.now()
  for (let index = 0; index < iterations; index++) JSON.parse(text)
  const parseUs = ((performance.now() - start) * 1000) / iterations
  start = performance.now()
  let ok = 0
  for (let index = 0; index < iterations; index++) if (validators.kibitz.Check(parsed)) ok++
  const checkUs = ((performance.now() - start) * 1000) / iterations
  if (ok !== iterations) throw new Error('validation failed')
  console.log(
    `${label} (${text.length} bytes): JSON.parse ${parseUs.toFixed(2)} us, validate ${checkUs.toFixed(2)} us ` +
      `(${((checkUs / parseUs) * 100).toFixed(0)}% of parse)`,
  )
}

measure('accepted reply', acceptedBody(), 200_000)
measure('accept, 1 entry', acceptBody(1), 200_000)
measure('accept, 64 entries', acceptBody(64), 20_000)
measure('accept, 256 entries', acceptBody(256), 5_000)
