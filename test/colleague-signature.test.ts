import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Signer } from '../src/colleague/signature.js'

test('a signature verifies once, inside its window, on its route and body only', () => {
  let now = 1_000_000
  const signer = new Signer('secret', { now: () => now, windowMs: 1000, seenMax: 4 })
  const headers = signer.sign('POST', '/kibitz', '{"a":1}')
  const ts = headers['x-paxos-timestamp']
  const sig = headers['x-paxos-signature']
  assert.equal(signer.verify('POST', '/kibitz', '{"a":2}', ts, sig), false, 'other body')
  assert.equal(signer.verify('POST', '/join', '{"a":1}', ts, sig), false, 'other route')
  assert.equal(new Signer('other', { now: () => now }).verify('POST', '/kibitz', '{"a":1}', ts, sig), false, 'other secret')
  assert.equal(signer.verify('POST', '/kibitz', '{"a":1}', ts, sig), true)
  assert.equal(signer.verify('POST', '/kibitz', '{"a":1}', ts, sig), false, 'replay')
  now += 2000
  const late = signer.sign('POST', '/kibitz', '{}')
  now += 1001
  assert.equal(signer.verify('POST', '/kibitz', '{}', late['x-paxos-timestamp'], late['x-paxos-signature']), false, 'stale')
  assert.equal(signer.verify('POST', '/kibitz', '{}', undefined, undefined), false, 'unsigned')
  assert.equal(signer.verify('POST', '/kibitz', '{}', 'abc', 'zz'), false, 'malformed')
})

test('the replay cache stays bounded', () => {
  const now = 5_000
  const signer = new Signer('secret', { now: () => now, windowMs: 60_000, seenMax: 3 })
  for (let n = 0; n < 10; n++) {
    const headers = signer.sign('POST', '/kibitz', `{"n":${n}}`)
    assert.equal(signer.verify('POST', '/kibitz', `{"n":${n}}`, headers['x-paxos-timestamp'], headers['x-paxos-signature']), true)
  }
  assert.ok((signer as unknown as { seen: Map<string, number> }).seen.size <= 3)
})
