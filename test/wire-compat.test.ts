// Members of one island may run different versions while it is upgraded one
// process at a time. A later version may add optional fields to a body or a
// message (as the promise's `government` was added); an earlier one must take
// such a body and ignore what it does not know, and a later one must take the
// bodies of an earlier one, which lack those fields.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { firstError, validators } from '../src/colleague/schemas.js'

const ballot = { round: 3, id: 'm1' }
const government = {
  islandId: 'island',
  number: 2,
  promise: '2/0',
  majority: ['m1', 'm2', 'm3'],
  minority: [],
  constituents: [],
  naturalized: ['m1', 'm2', 'm3'],
  exiled: [],
  properties: { m1: { location: 'http://127.0.0.1:1' } },
  arrived: { m1: '1/0' },
  submitters: { m1: [4] },
}

function body(messages: unknown[], extra: Record<string, unknown> = {}): unknown {
  return { islandName: 'isle', islandId: 'island', from: 'm2', to: 'm1', messages, ...extra }
}

function valid(value: unknown): void {
  assert.ok(validators.kibitz.Check(value), firstError(validators.kibitz, value))
}

test('a body whose messages carry fields this version does not know is taken', () => {
  const value = { from: 'm1', seq: 5, value: '{"n":1}', later: true }
  const entry = { position: 7, ballot, entry: { type: 'value', submission: value, later: 1 }, later: 'x' }
  valid(
    body(
      [
        { type: 'accept', ballot, entries: [entry], chosen: [], commit: 6, trim: 0, later: { any: 'thing' } },
        { type: 'accepted', ballot, ranges: [{ from: 7, to: 7, later: 0 }], commit: 6, later: [] },
        { type: 'prepare', ballot, from: 4, later: null },
      ],
      { later: 'a field of a later version' },
    ),
  )
})

test('a promise is taken with and without the government its acceptor applied, so both versions read each other', () => {
  const promise = { type: 'promise', ballot, accepted: [], commit: 6, from: 7 }
  valid(body([promise]))
  valid(body([{ ...promise, government: { position: 6, government } }]))
  assert.equal(validators.kibitz.Check(body([{ ...promise, government: { position: 'six', government } }])), false, 'the field is still checked')
})

test('a forward is taken with and without a probe\'s commit point and the chosen entries that answer it, so both versions read each other', () => {
  const forward = { type: 'forward', submissions: [] }
  const chosen = [{ position: 7, ballot, entry: { type: 'government', government } }]
  valid(body([forward]))
  valid(body([{ ...forward, commit: 6 }]))
  valid(body([{ ...forward, chosen }]))
  assert.equal(validators.kibitz.Check(body([{ ...forward, commit: 1.5 }])), false, 'the commit point is still checked')
  assert.equal(validators.kibitz.Check(body([{ ...forward, chosen: [{ position: 7, ballot }] }])), false, 'the entries are still checked')
})

test('a /bootstrap, /shutdown or /oob body passes the schema with and without its recipient (a colleague without a secret takes both; one with a secret needs the recipient)', () => {
  const bodies: [typeof validators.shutdown | typeof validators.bootstrap | typeof validators.oob, Record<string, unknown>][] = [
    [validators.bootstrap, { islandName: 'isle' }],
    [validators.shutdown, { islandName: 'isle', islandId: 'island' }],
    [validators.oob, { islandName: 'isle', islandId: 'island', from: 'm4', arrival: '2/0', name: 'snapshot', post: null }],
  ]
  for (const [check, value] of bodies) {
    assert.ok(check.Check(value), firstError(check, value))
    assert.ok(check.Check({ ...value, to: 'm1' }), firstError(check, { ...value, to: 'm1' }))
    assert.equal(check.Check({ ...value, to: '' }), false, 'the recipient is still checked')
    assert.equal(check.Check({ ...value, to: '__proto__' }), false, 'a reserved id is no recipient')
  }
})
