// What the storage tests share: data directories under the system temp
// directory, removed when the test file ends, and a one-member island's
// identity and government.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import type { Government } from '../../src/paxos/types.js'
import type { StorageIdentity } from '../../src/storage/durable-store.js'

/** A maker of fresh data directories named after `prefix`; all of them go when the calling test file ends. */
export function temporaryDirectories(prefix: string): () => string {
  const roots: string[] = []
  after(() => {
    for (const root of roots) rmSync(root, { recursive: true, force: true })
  })
  return () => {
    const root = mkdtempSync(join(tmpdir(), prefix))
    roots.push(root)
    return join(root, 'data')
  }
}

export const STORAGE_IDENTITY: StorageIdentity = { islandName: 'isle', islandId: 'island-1', colleagueId: 'a' }

/** Government 1 of island-1: member "a" alone, with `properties`. */
export function soloGovernment(properties: Government['properties'] = { a: {} }): Government {
  return {
    islandId: 'island-1',
    number: 1,
    promise: '1/0',
    majority: ['a'],
    minority: [],
    constituents: [],
    naturalized: ['a'],
    exiled: [],
    properties,
    arrived: { a: '1/0' },
    submitters: {},
  }
}
