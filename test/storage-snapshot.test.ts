// A snapshot written off the event loop: the member goes on persisting while
// its bytes reach the disk; only once they are synced is it renamed into
// place and the log it covers deleted; a store retired or closed meanwhile
// leaves no snapshot behind.

import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { test } from 'node:test'
import type { Ballot, LogEntry } from '../src/paxos/types.js'
import { DurableStore } from '../src/storage/durable-store.js'
import { nodeFileSystem, type StorageFileSystem } from '../src/storage/file-system.js'
import { soloGovernment, STORAGE_IDENTITY, temporaryDirectories } from './support/storage.js'

const directory = temporaryDirectories('paxos-storage-snapshot-')

const identity = STORAGE_IDENTITY
const ballot: Ballot = { round: 1, id: 'a' }
const text = (seq: number): LogEntry => ({ type: 'value', submission: { from: 'a', seq, value: JSON.stringify({ seq }) } })
const government = soloGovernment()

/** The real disk, except that an asynchronous write waits until `release()` before it writes and syncs. */
function heldDisk() {
  const held: (() => void)[] = []
  const fileSystem: StorageFileSystem = {
    ...nodeFileSystem,
    writeSyncedAsync(path, data) {
      return new Promise<void>((resolve, reject) => {
        held.push(() => {
          try {
            nodeFileSystem.writeSynced(path, data)
            resolve()
          } catch (error) {
            reject(error)
          }
        })
      })
    },
  }
  return {
    fileSystem,
    get waiting() {
      return held.length
    },
    release() {
      for (const write of held.splice(0)) write()
    },
  }
}

function snapshotAt(position: number) {
  return { position, government, governmentPosition: 0, submitters: { a: [position] }, arrival: '1/0', state: { at: position } }
}

/** A member with a snapshot at 0 and `count` entries, on segments small enough that there are several. */
function member(dir: string, fileSystem: StorageFileSystem, count: number): DurableStore {
  const { store } = DurableStore.open({ directory: dir, fileSystem, segmentBytesMax: 200 }, { islandName: 'isle' })
  store.begin(identity)
  store.persist({ promised: ballot, accepted: [{ position: 0, ballot, entry: { type: 'government', government } }], commit: 0, seq: 0 })
  store.writeSnapshot(snapshotAt(0))
  for (let position = 1; position <= count; position++) persist(store, position)
  return store
}

function persist(store: DurableStore, position: number): void {
  store.persist({ promised: null, accepted: [{ position, ballot, entry: text(position) }], commit: position, seq: position })
}

const names = (dir: string, prefix: string) => readdirSync(dir).filter((name) => name.startsWith(prefix)).sort()

test('a snapshot written asynchronously: the log goes on meanwhile; renamed into place and the log it covers deleted only once synced', async () => {
  const dir = directory()
  const disk = heldDisk()
  const store = member(dir, disk.fileSystem, 10)
  const segmentsBefore = names(dir, 'wal-')
  assert.ok(segmentsBefore.length > 2, 'several segments')

  const writing = store.writeSnapshotAsync(snapshotAt(10))
  assert.equal(store.snapshotting, true)
  assert.equal(disk.waiting, 1)
  // The member goes on: flushes are persisted, and no second snapshot is started.
  persist(store, 11)
  persist(store, 12)
  await store.writeSnapshotAsync(snapshotAt(12))
  assert.equal(disk.waiting, 1, 'one snapshot at a time')
  assert.deepEqual(names(dir, 'snapshot-'), ['snapshot-0000000000000000.snap'], 'nothing renamed before it is synced')
  for (const name of segmentsBefore) assert.ok(names(dir, 'wal-').includes(name), `${name} kept until the snapshot is durable`)
  assert.equal(store.snapshotPosition, 0)

  disk.release()
  await writing
  assert.equal(store.snapshotting, false)
  assert.equal(store.snapshotPosition, 10)
  assert.deepEqual(names(dir, 'snapshot-'), ['snapshot-0000000000000010.snap'])
  assert.ok(names(dir, 'wal-').length < segmentsBefore.length, 'segments the snapshot covers are deleted')
  persist(store, 13)
  store.close()

  const { store: reopened, recovered } = DurableStore.open({ directory: dir }, { islandName: 'isle' })
  assert.equal(recovered?.snapshot.position, 10)
  assert.deepEqual(recovered?.snapshot.state, { at: 10 })
  assert.deepEqual(recovered?.accepted.map((item) => item.position), [11, 12, 13])
  reopened.close()
})

test('a snapshot still being written when the store is retired or closed is abandoned', async () => {
  for (const end of ['retire', 'close'] as const) {
    const dir = directory()
    const disk = heldDisk()
    const store = member(dir, disk.fileSystem, 5)
    const writing = store.writeSnapshotAsync(snapshotAt(5))
    if (end === 'retire') store.retire()
    else store.close()
    disk.release()
    await writing
    assert.deepEqual(readdirSync(dir).filter((name) => name.startsWith('snapshot-')), end === 'retire' ? [] : ['snapshot-0000000000000000.snap'], end)
    if (end === 'retire') store.close()
    const { store: reopened, recovered } = DurableStore.open({ directory: dir }, { islandName: 'isle' })
    assert.equal(recovered?.snapshot.position ?? null, end === 'retire' ? null : 0, `${end}: no newer snapshot behind`)
    reopened.close()
  }
})

test('a failed asynchronous write is STORAGE_FAILED and leaves the previous snapshot in place', async () => {
  const dir = directory()
  const fileSystem: StorageFileSystem = { ...nodeFileSystem, writeSyncedAsync: () => Promise.reject(new Error('disk full')) }
  const store = member(dir, fileSystem, 3)
  await assert.rejects(store.writeSnapshotAsync(snapshotAt(3)), (error: Error & { code?: string }) => error.code === 'STORAGE_FAILED')
  assert.equal(store.snapshotting, false)
  assert.equal(store.snapshotPosition, 0)
  store.close()
  const { store: reopened, recovered } = DurableStore.open({ directory: dir }, { islandName: 'isle' })
  assert.equal(recovered?.snapshot.position, 0)
  assert.deepEqual(recovered?.accepted.map((item) => item.position), [1, 2, 3])
  reopened.close()
})
