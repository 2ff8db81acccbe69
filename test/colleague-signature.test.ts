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

test('a head signature verifies once, before the body, for its route, its timestamp and its body length only', () => {
  let now = 1_000_000
  const signer = new Signer('secret', { now: () => now, windowMs: 1000, seenMax: 8 })
  const body = '{"a":"\u00e9"}'
  const headers = signer.sign('POST', '/kibitz', body)
  const ts = headers['x-paxos-timestamp']
  const head = headers['x-paxos-head-signature']
  const length = String(Buffer.byteLength(body))
  assert.notEqual(length, String(body.length), 'the length is in bytes, as content-length counts')
  assert.equal(signer.verifyHead('POST', '/kibitz', ts, head, String(body.length)), false, 'other length')
  assert.equal(signer.verifyHead('POST', '/join', ts, head, length), false, 'other route')
  assert.equal(signer.verifyHead('POST', '/kibitz', String(Number(ts) + 1), head, length), false, 'other timestamp')
  assert.equal(signer.verifyHead('POST', '/kibitz', ts, head, undefined), false, 'no content-length')
  assert.equal(signer.verifyHead('POST', '/kibitz', ts, headers['x-paxos-signature'], length), false, "the body's signature is not the head's")
  assert.equal(new Signer('other', { now: () => now }).verifyHead('POST', '/kibitz', ts, head, length), false, 'other secret')
  assert.equal(signer.verifyHead('POST', '/kibitz', ts, head, length), true)
  assert.equal(signer.verifyHead('POST', '/kibitz', ts, head, length), false, 'replay')
  assert.equal(signer.verify('POST', '/kibitz', body, ts, headers['x-paxos-signature']), true, 'the body is then verified on its own')
  const late = signer.sign('POST', '/kibitz', '{}')
  now += 1001
  assert.equal(signer.verifyHead('POST', '/kibitz', late['x-paxos-timestamp'], late['x-paxos-head-signature'], '2'), false, 'stale')
  assert.equal(signer.verifyHead('POST', '/kibitz', 'abc', 'zz', '2'), false, 'malformed')
})
