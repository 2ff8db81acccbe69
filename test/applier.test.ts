// The applier: committed entries handled one at a time in position order,
// and held (queued, not handled) while a resuming member's state is restored.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Applier } from '../src/colleague/applier.js'
import type { Committed } from '../src/paxos/types.js'

function committed(position: number): Committed {
  return { position, promise: `1/${position}`, entry: { type: 'noop' }, apply: true }
}

/** Lets queued microtasks run (the applier never handles inside push's stack). */
async function turns(count = 10): Promise<void> {
  for (let turn = 0; turn < count; turn++) await null
}

function recording(handle?: (position: number) => void | Promise<void>): { applier: Applier; handled: number[]; applied: number[]; faults: unknown[] } {
  const handled: number[] = []
  const applied: number[] = []
  const faults: unknown[] = []
  const applier = new Applier({
    handle: (entry) => {
      handled.push(entry.position)
      return handle?.(entry.position)
    },
    now: () => 0,
    onApplied: (position) => void applied.push(position),
    onFault: (error) => void faults.push(error),
  })
  return { applier, handled, applied, faults }
}

test('held, the applier queues what is committed and handles none of it; released, it handles all of it in order, and what comes next', async () => {
  const { applier, handled, applied, faults } = recording()
  applier.hold()
  applier.push([committed(0), committed(1)])
  applier.push([committed(2)])
  await turns()
  assert.deepEqual(handled, [])
  assert.equal(applier.applied, -1)
  assert.equal(applier.backlog, 3)
  applier.release()
  assert.deepEqual(handled, [], 'not inside release() itself')
  await turns()
  assert.deepEqual(handled, [0, 1, 2])
  applier.push([committed(3)])
  await turns()
  assert.deepEqual(applied, [0, 1, 2, 3])
  assert.deepEqual(faults, [])
})

test('held while an asynchronous handling is under way, the applier finishes that entry and handles the next only once released', async () => {
  let finish!: () => void
  const { applier, handled, applied } = recording((position) => (position === 0 ? new Promise<void>((resolve) => (finish = resolve)) : undefined))
  applier.push([committed(0), committed(1)])
  await turns()
  assert.deepEqual(handled, [0])
  applier.hold()
  finish()
  await turns()
  assert.deepEqual(applied, [0])
  assert.deepEqual(handled, [0], 'position 1 waits')
  applier.release()
  await turns()
  assert.deepEqual(applied, [0, 1])
})

test('a stopped applier handles nothing, held or released', async () => {
  const { applier, handled } = recording()
  applier.hold()
  applier.push([committed(0)])
  applier.stop()
  applier.release()
  applier.push([committed(1)])
  await turns()
  assert.deepEqual(handled, [])
})

test('the backlog counts the entry whose handling is awaited with those queued behind it: committed, not applied', async () => {
  let finish: () => void = () => {}
  const { applier, applied } = recording((position) => (position === 1 ? new Promise<void>((resolve) => (finish = resolve)) : undefined))
  applier.push([committed(0), committed(1), committed(2)])
  await turns()
  assert.deepEqual(applied, [0])
  assert.equal(applier.waiting?.position, 1)
  assert.equal(applier.backlog, 2, 'position 1 (awaited) and 2 (queued)')
  finish()
  await turns()
  assert.deepEqual(applied, [0, 1, 2])
  assert.equal(applier.backlog, 0)
})
