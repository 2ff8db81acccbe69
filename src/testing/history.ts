// The client-side history checker: given what clients of a replicated
// key-value island saw (each operation with its invoke and complete times)
// and every member's final map, report each way the history breaks the
// island's promises. Pure: no I/O, no clocks; it never throws on a violation.
//
// The model it checks is the CLI's kv store driven by the log: a write puts a
// unique value under a key no other write uses, so a member's map doubles as
// the list of the write entries it applied, each with its log position. A
// read of the whole map at position P must then be exactly the entries of the
// final map at positions up to P (a prefix of the one log).

/** How an operation ended, as the client saw it. A timeout is unknown, never failed. */
export type Outcome = 'ok' | 'failed' | 'unknown'

export interface WriteOperation {
  readonly kind: 'write'
  readonly id: number
  readonly client: string
  readonly key: string
  /** Unique across the whole history. */
  readonly value: string
  readonly invokedAt: number
  /** Null while unknown: the write may take effect at any time after `invokedAt`. */
  readonly completedAt: number | null
  readonly outcome: Outcome
  /** The position the island acknowledged; set when `outcome` is ok. */
  readonly position?: number
}

export interface ReadOperation {
  readonly kind: 'read'
  readonly id: number
  readonly client: string
  readonly key: string
  readonly consistent: boolean
  readonly invokedAt: number
  readonly completedAt: number | null
  readonly outcome: Outcome
  /** Set when ok: null for "no such key". */
  readonly found?: { readonly value: unknown; readonly position: number } | null
}

export interface ScanOperation {
  readonly kind: 'scan'
  readonly id: number
  readonly client: string
  readonly consistent: boolean
  readonly invokedAt: number
  readonly completedAt: number | null
  readonly outcome: Outcome
  /** Set when ok: the map and the position it was read at. */
  readonly map?: KvMap
}

export type HistoryOperation = WriteOperation | ReadOperation | ScanOperation

export interface KvMapEntry {
  readonly key: string
  readonly value: unknown
  readonly position: number
}

/** What `GET /kv` answers: the applied position and every entry. */
export interface KvMap {
  readonly position: number
  readonly entries: readonly KvMapEntry[]
}

/** One member's state once the history ended and the island converged. */
export interface MemberFinal {
  readonly id: string
  readonly map: KvMap
  /** Anything else that must agree across members (government promise, applied position). */
  readonly agreement?: Readonly<Record<string, unknown>>
}

export type HistoryRule =
  /** Members' final maps (or agreement fields) differ. */
  | 'agreement'
  /** An acknowledged write is missing, or at another position than acknowledged. */
  | 'acknowledged-lost'
  /** A value appears that no write put there, or under another key. */
  | 'validity'
  /** One position holds two entries, or one value appears twice. */
  | 'duplicate'
  /** Write A was acknowledged before write B was invoked, yet B sits before A. */
  | 'real-time-order'
  /** A write the client saw definitely fail appears anyway. */
  | 'failed-write-applied'
  /** A consistent read missed a write acknowledged before the read began, or saw a later one's absence. */
  | 'stale-read'
  /** A read answered something the log never held at the position it named. */
  | 'read-mismatch'
  /** The history itself is malformed (duplicate ids, a value reused by two writes). */
  | 'history'

export interface HistoryViolation {
  readonly rule: HistoryRule
  readonly detail: string
}

export interface HistoryCounts {
  readonly ok: number
  readonly failed: number
  readonly unknown: number
  readonly writes: number
  readonly reads: number
  readonly scans: number
  /** Entries of the final map checked against the history. */
  readonly entries: number
}

export interface HistoryReport {
  readonly ok: boolean
  readonly violations: readonly HistoryViolation[]
  readonly counts: HistoryCounts
}

/** Bound on violations kept per rule, so a broken run still prints a readable report. */
export const VIOLATIONS_PER_RULE_MAX = 20

export function checkHistory(operations: readonly HistoryOperation[], members: readonly MemberFinal[]): HistoryReport {
  const violations = new ViolationList()
  const writes = operations.filter((operation): operation is WriteOperation => operation.kind === 'write')
  const writesByKey = indexWrites(writes, violations)
  checkAgreement(members, violations)
  const final = members[0]?.map ?? { position: -1, entries: [] }
  const finalByKey = indexFinal(final, writesByKey, violations)
  checkWrites(writes, finalByKey, violations)
  checkRealTimeOrder(writes, violations)
  for (const operation of operations) {
    if (operation.kind === 'read') checkRead(operation, writesByKey, finalByKey, violations)
    if (operation.kind === 'scan') checkScan(operation, final, writes, violations)
  }
  const count = (outcome: Outcome): number => operations.filter((operation) => operation.outcome === outcome).length
  return {
    ok: violations.size === 0,
    violations: violations.list(),
    counts: {
      ok: count('ok'),
      failed: count('failed'),
      unknown: count('unknown'),
      writes: writes.length,
      reads: operations.filter((operation) => operation.kind === 'read').length,
      scans: operations.filter((operation) => operation.kind === 'scan').length,
      entries: final.entries.length,
    },
  }
}

class ViolationList {
  readonly #byRule = new Map<HistoryRule, HistoryViolation[]>()
  #size = 0

  get size(): number {
    return this.#size
  }

  add(rule: HistoryRule, detail: string): void {
    this.#size++
    const list = this.#byRule.get(rule) ?? []
    if (list.length < VIOLATIONS_PER_RULE_MAX) list.push({ rule, detail })
    this.#byRule.set(rule, list)
  }

  list(): HistoryViolation[] {
    return [...this.#byRule.values()].flat()
  }
}

function indexWrites(writes: readonly WriteOperation[], violations: ViolationList): Map<string, WriteOperation> {
  const byKey = new Map<string, WriteOperation>()
  const values = new Set<string>()
  for (const write of writes) {
    if (byKey.has(write.key)) violations.add('history', `key ${write.key} written twice; each write needs its own key`)
    if (values.has(write.value)) violations.add('history', `value ${write.value} written twice; values must be unique`)
    byKey.set(write.key, write)
    values.add(write.value)
  }
  return byKey
}

function canonical(map: KvMap): string {
  const entries = [...map.entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  return JSON.stringify({ position: map.position, entries })
}

function checkAgreement(members: readonly MemberFinal[], violations: ViolationList): void {
  const [first, ...others] = members
  if (first === undefined) return
  const reference = canonical(first.map)
  const referenceAgreement = JSON.stringify(first.agreement ?? {})
  for (const member of others) {
    if (canonical(member.map) !== reference) {
      violations.add(
        'agreement',
        `${member.id} holds ${member.map.entries.length} entries at position ${member.map.position}, ` +
          `${first.id} ${first.map.entries.length} at ${first.map.position}${firstDifference(first.map, member.map)}`,
      )
    }
    const agreement = JSON.stringify(member.agreement ?? {})
    if (agreement !== referenceAgreement) {
      violations.add('agreement', `${member.id} reports ${agreement}, ${first.id} ${referenceAgreement}`)
    }
  }
}

function firstDifference(a: KvMap, b: KvMap): string {
  const inB = new Map(b.entries.map((entry) => [entry.key, entry]))
  for (const entry of a.entries) {
    const other = inB.get(entry.key)
    if (other === undefined) return `; first difference: ${entry.key} only in the first`
    if (other.position !== entry.position || JSON.stringify(other.value) !== JSON.stringify(entry.value)) {
      return `; first difference at ${entry.key}: ${JSON.stringify(entry)} vs ${JSON.stringify(other)}`
    }
  }
  return ''
}

/** The final map by key; checks every entry against the writes (validity) and positions for duplicates. */
function indexFinal(
  final: KvMap,
  writesByKey: ReadonlyMap<string, WriteOperation>,
  violations: ViolationList,
): Map<string, KvMapEntry> {
  const byKey = new Map<string, KvMapEntry>()
  const byPosition = new Map<number, string>()
  const values = new Set<string>()
  for (const entry of final.entries) {
    const write = writesByKey.get(entry.key)
    if (write === undefined) {
      violations.add('validity', `${entry.key} = ${JSON.stringify(entry.value)} at ${entry.position} was never written`)
    } else if (entry.value !== write.value) {
      violations.add('validity', `${entry.key} holds ${JSON.stringify(entry.value)}, but the only write put ${write.value}`)
    }
    const text = JSON.stringify(entry.value)
    if (values.has(text)) violations.add('duplicate', `value ${text} appears twice`)
    values.add(text)
    const other = byPosition.get(entry.position)
    if (other !== undefined) violations.add('duplicate', `position ${entry.position} holds both ${other} and ${entry.key}`)
    byPosition.set(entry.position, entry.key)
    if (entry.position > final.position) {
      violations.add('validity', `${entry.key} at ${entry.position} is past the map's position ${final.position}`)
    }
    byKey.set(entry.key, entry)
  }
  return byKey
}

function checkWrites(
  writes: readonly WriteOperation[],
  finalByKey: ReadonlyMap<string, KvMapEntry>,
  violations: ViolationList,
): void {
  for (const write of writes) {
    const entry = finalByKey.get(write.key)
    if (write.outcome === 'ok') {
      if (entry === undefined) {
        violations.add('acknowledged-lost', `${write.key} acknowledged at ${write.position} is missing`)
      } else if (entry.position !== write.position) {
        violations.add('acknowledged-lost', `${write.key} acknowledged at ${write.position} sits at ${entry.position}`)
      }
    } else if (write.outcome === 'failed' && entry !== undefined) {
      violations.add('failed-write-applied', `${write.key} failed for its client, yet sits at ${entry.position}`)
    }
  }
}

/**
 * Acknowledged writes ordered by completion; a write invoked after another
 * completed must sit at a later position. Sorting by invocation and keeping
 * the highest position acknowledged so far makes it O(n log n).
 */
function checkRealTimeOrder(writes: readonly WriteOperation[], violations: ViolationList): void {
  const acknowledged = writes.filter(
    (write): write is WriteOperation & { completedAt: number; position: number } =>
      write.outcome === 'ok' && write.completedAt !== null && write.position !== undefined,
  )
  const byCompletion = [...acknowledged].sort((a, b) => a.completedAt - b.completedAt)
  const byInvocation = [...acknowledged].sort((a, b) => a.invokedAt - b.invokedAt)
  let next = 0
  let highest: (typeof acknowledged)[number] | null = null
  for (const write of byInvocation) {
    while (next < byCompletion.length && (byCompletion[next]?.completedAt ?? Infinity) < write.invokedAt) {
      const done = byCompletion[next] as (typeof acknowledged)[number]
      if (highest === null || done.position > highest.position) highest = done
      next++
    }
    if (highest !== null && highest.position >= write.position) {
      violations.add(
        'real-time-order',
        `${highest.key} acknowledged at ${highest.position} (t=${highest.completedAt}) before ${write.key} ` +
          `was invoked (t=${write.invokedAt}), yet ${write.key} sits at ${write.position}`,
      )
    }
  }
}

function checkRead(
  read: ReadOperation,
  writesByKey: ReadonlyMap<string, WriteOperation>,
  finalByKey: ReadonlyMap<string, KvMapEntry>,
  violations: ViolationList,
): void {
  if (read.outcome !== 'ok' || read.found === undefined) return
  const write = writesByKey.get(read.key)
  const entry = finalByKey.get(read.key)
  if (read.found !== null) {
    if (write === undefined || read.found.value !== write.value) {
      violations.add('read-mismatch', `read ${read.id} of ${read.key} saw ${JSON.stringify(read.found.value)}, never written there`)
    } else if (entry === undefined || entry.position !== read.found.position) {
      violations.add(
        'read-mismatch',
        `read ${read.id} saw ${read.key} at ${read.found.position}; the final log has it at ${entry?.position ?? 'no position'}`,
      )
    }
    if (write !== undefined && write.outcome === 'failed') {
      violations.add('failed-write-applied', `read ${read.id} saw ${read.key}, whose write definitely failed`)
    }
    return
  }
  if (!read.consistent || write === undefined) return
  if (write.outcome === 'ok' && write.completedAt !== null && write.completedAt < read.invokedAt) {
    violations.add(
      'stale-read',
      `consistent read ${read.id} of ${read.key} (invoked t=${read.invokedAt}) found nothing, ` +
        `though the write was acknowledged at t=${write.completedAt}`,
    )
  }
}

function checkScan(scan: ScanOperation, final: KvMap, writes: readonly WriteOperation[], violations: ViolationList): void {
  if (scan.outcome !== 'ok' || scan.map === undefined) return
  const seen = scan.map
  const prefix = new Map(final.entries.filter((entry) => entry.position <= seen.position).map((entry) => [entry.key, entry]))
  const got = new Map(seen.entries.map((entry) => [entry.key, entry]))
  for (const [key, entry] of got) {
    const expected = prefix.get(key)
    if (expected === undefined || expected.position !== entry.position || JSON.stringify(expected.value) !== JSON.stringify(entry.value)) {
      violations.add('read-mismatch', `scan ${scan.id} at ${seen.position} holds ${key}@${entry.position}, not in the log's prefix`)
      return
    }
  }
  for (const key of prefix.keys()) {
    if (!got.has(key)) {
      violations.add('read-mismatch', `scan ${scan.id} at ${seen.position} lacks ${key}, which the log holds by then`)
      return
    }
  }
  if (!scan.consistent) return
  for (const write of writes) {
    if (write.outcome === 'ok' && write.completedAt !== null && write.completedAt < scan.invokedAt && !got.has(write.key)) {
      violations.add(
        'stale-read',
        `consistent scan ${scan.id} (invoked t=${scan.invokedAt}, position ${seen.position}) lacks ${write.key}, ` +
          `acknowledged at t=${write.completedAt}`,
      )
      return
    }
  }
}
