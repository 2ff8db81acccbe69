// The key-value application the CLI replicates: a Map driven by the log.
// Every member applies the same operations in the same order, so every
// member's map is the same at the same position.

import type { JsonValue } from '../colleague/json.js'

/** What the kv application enqueues. A barrier changes nothing; it orders reads. */
export type KvOperation =
  | { readonly kv: 'put'; readonly key: string; readonly value: JsonValue }
  | { readonly kv: 'delete'; readonly key: string }
  | { readonly kv: 'barrier' }

export type KvRecord = {
  readonly value: JsonValue
  /** Log position of the write that set this value. */
  readonly position: number
}

/** The state a newcomer receives out of band: the map as an array of pairs. */
export type KvSnapshot = {
  readonly position: number
  readonly pairs: ReadonlyArray<readonly [string, KvRecord]>
}

/** The entry as the colleague hands it to the application. */
export interface KvEntry {
  readonly position: number
  readonly value: unknown
}

export const KEY_PATTERN = /^[A-Za-z0-9._~:@-]{1,256}$/

export function isKvKey(key: string): boolean {
  return KEY_PATTERN.test(key)
}

export class KvStore {
  readonly #map = new Map<string, KvRecord>()
  #position = -1

  /** Highest log position applied to this map; -1 before any. */
  get position(): number {
    return this.#position
  }

  get size(): number {
    return this.#map.size
  }

  /** Applies one committed entry. Values that are not kv operations are skipped. */
  entry(entry: KvEntry): void {
    if (entry.position > this.#position) this.#position = entry.position
    const operation = asOperation(entry.value)
    if (operation === null) return
    switch (operation.kv) {
      case 'put':
        this.#map.set(operation.key, { value: operation.value, position: entry.position })
        return
      case 'delete':
        this.#map.delete(operation.key)
        return
      case 'barrier':
        return
    }
  }

  get(key: string): KvRecord | undefined {
    return this.#map.get(key)
  }

  /** Every record, sorted by key so that equal maps print equal. */
  entries(): Array<[string, KvRecord]> {
    return [...this.#map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  }

  snapshot(): KvSnapshot {
    return { position: this.#position, pairs: this.entries() }
  }

  /**
   * Installs a snapshot taken by the leader (or read back from disk). Throws
   * on a malformed one, changing nothing: the colleague then crashes. The
   * pairs are checked first and then taken as they are, without a copy: a
   * snapshot may hold millions.
   */
  restore(state: unknown): void {
    if (!isSnapshot(state)) throw new TypeError('malformed kv snapshot')
    this.#map.clear()
    for (const [key, record] of state.pairs) this.#map.set(key, asRecord(record))
    this.#position = state.position
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function asOperation(value: unknown): KvOperation | null {
  if (!isObject(value)) return null
  const key = value['key']
  switch (value['kv']) {
    case 'put':
      return typeof key === 'string' && 'value' in value ? { kv: 'put', key, value: value['value'] as JsonValue } : null
    case 'delete':
      return typeof key === 'string' ? { kv: 'delete', key } : null
    case 'barrier':
      return { kv: 'barrier' }
    default:
      return null
  }
}

function isSnapshot(state: unknown): state is KvSnapshot {
  if (!isObject(state)) return false
  const position = state['position']
  const pairs = state['pairs']
  if (typeof position !== 'number' || !Number.isInteger(position) || !Array.isArray(pairs)) return false
  for (const pair of pairs as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2) return false
    const [key, record] = pair as [unknown, unknown]
    if (typeof key !== 'string' || !isObject(record) || typeof record['position'] !== 'number') return false
  }
  return true
}

/** A record as the map holds it: `{ value, position }`, the one given when it is exactly that. */
function asRecord(record: KvRecord): KvRecord {
  let keys = 0
  for (const key in record) if (Object.hasOwn(record, key)) keys++
  return keys === 2 && Object.hasOwn(record, 'value') ? record : { value: record.value, position: record.position }
}
