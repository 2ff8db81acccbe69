// Bounded waits on the colleague's state: a wait begun after the colleague
// ended (a crash between two steps of a join) fails at once with the reason,
// instead of running out its whole timeout.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ColleagueError } from '../src/index.js'
import { systemClock } from '../src/kibitzer/clock.js'
import { Waiters } from '../src/colleague/waiters.js'

test('waits pending at rejectAll fail with its error, and so does every later wait', { timeout: 30_000 }, async () => {
  const waiters = new Waiters(systemClock)
  const crash = new ColleagueError('OUT_OF_BAND_FAILED', 'the arrival leader did not answer')
  const pending = waiters.until(() => false, 60_000, () => new Error('timed out'))
  waiters.rejectAll(crash)
  await assert.rejects(pending, (error) => error === crash)
  await assert.rejects(
    waiters.until(() => false, 60_000, () => new Error('timed out')),
    (error) => error === crash,
  )
  assert.equal(waiters.size, 0)
  // Even a predicate that holds: the colleague is gone.
  await assert.rejects(waiters.until(() => true, 60_000, () => new Error('timed out')), (error) => error === crash)
})

test('before rejectAll a wait resolves when its predicate comes to hold', async () => {
  const waiters = new Waiters(systemClock)
  let done = false
  const waiting = waiters.until(() => done, 60_000, () => new Error('timed out'))
  done = true
  waiters.check()
  await waiting
})
