import type { SubmitterTable } from './types.js'

/**
 * How far past a submitter's watermark a leader proposes its seqs. A live
 * submitter's gap is a value still pending there (a full leader queue dropped
 * its forward, say), so it comes back; until it does, later seqs wait at the
 * submitter instead of piling up above the gap. This bounds what the ledger
 * remembers per submitter without ever declaring a gap applied.
 */
export const SUBMITTER_ABOVE_MAX = 4096

interface Record_ {
  watermark: number
  above: Set<number>
}

/**
 * Which submissions have been applied, per submitter: a watermark below which
 * every seq was applied, plus the sparse seqs above it. Part of the replicated
 * state: every member updates it identically as it applies entries in order.
 */
export class SubmitterLedger {
  readonly #records = new Map<string, Record_>()

  static fromTable(table: SubmitterTable): SubmitterLedger {
    const ledger = new SubmitterLedger()
    for (const [from, [watermark = 0, ...above]] of Object.entries(table)) {
      ledger.#records.set(from, { watermark, above: new Set(above) })
    }
    return ledger
  }

  /**
   * Whether a leader may propose `seq` now: within SUBMITTER_ABOVE_MAX of the
   * submitter's watermark, or of the `floor` its submission carries.
   */
  admits(from: string, seq: number, floor = 0): boolean {
    return seq <= Math.max(this.#records.get(from)?.watermark ?? 0, floor) + SUBMITTER_ABOVE_MAX
  }

  applied(from: string, seq: number): boolean {
    const record = this.#records.get(from)
    if (record === undefined) return false
    return seq <= record.watermark || record.above.has(seq)
  }

  /**
   * Records `seq` as applied; returns false when it already was. Only a seq
   * applied here is ever recorded: a gap stays open until its own seq comes,
   * or until a submission with a `floor` above it (from a submitter restarted
   * from its storage) settles it: whatever of it comes later is not applied.
   */
  record(from: string, seq: number, floor = 0): boolean {
    let record = this.#records.get(from)
    if (record === undefined) {
      record = { watermark: 0, above: new Set() }
      this.#records.set(from, record)
    }
    if (floor > record.watermark) {
      record.watermark = floor
      for (const above of record.above) if (above <= floor) record.above.delete(above)
      while (record.above.delete(record.watermark + 1)) record.watermark++
    }
    if (seq <= record.watermark || record.above.has(seq)) return false
    if (seq === record.watermark + 1) {
      record.watermark = seq
      while (record.above.delete(record.watermark + 1)) record.watermark++
    } else {
      record.above.add(seq)
    }
    return true
  }

  forget(from: string): void {
    this.#records.delete(from)
  }

  toTable(): SubmitterTable {
    const table: Record<string, readonly number[]> = {}
    for (const [from, { watermark, above }] of this.#records) {
      table[from] = [watermark, ...[...above].sort((a, b) => a - b)]
    }
    return table
  }
}

/**
 * A set of (submitter, seq) pairs, kept per submitter so that the leader's
 * per-entry bookkeeping builds no key strings. A submitter with nothing in
 * the set holds no entry.
 */
export class SubmissionSet {
  readonly #seqs = new Map<string, Set<number>>()

  has(from: string, seq: number): boolean {
    return this.#seqs.get(from)?.has(seq) ?? false
  }

  add(from: string, seq: number): void {
    let seqs = this.#seqs.get(from)
    if (seqs === undefined) {
      seqs = new Set()
      this.#seqs.set(from, seqs)
    }
    seqs.add(seq)
  }

  delete(from: string, seq: number): void {
    const seqs = this.#seqs.get(from)
    if (seqs === undefined || !seqs.delete(seq) || seqs.size > 0) return
    this.#seqs.delete(from)
  }
}
