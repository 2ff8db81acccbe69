// Example applications for the whole-colleague simulator: one correct, and
// the broken ones it must catch. Each keeps a small bank: accounts and their
// balances, moved by `{ deposit: account, amount }` values.

import type { Application, AppliedEntry, Government, JsonValue } from '../../src/index.js'

interface Deposit {
  readonly deposit: string
  readonly amount: number
}

function isDeposit(value: unknown): value is Deposit {
  const deposit = value as Partial<Deposit> | null
  return typeof deposit?.deposit === 'string' && typeof deposit.amount === 'number'
}

/** Correct: state changes only through entries, and the snapshot is the whole state. */
export function bank(): Application {
  let balances: Record<string, number> = {}
  let deposits = 0
  return {
    entry: ({ value }: AppliedEntry) => {
      if (!isDeposit(value)) return
      balances[value.deposit] = (balances[value.deposit] ?? 0) + value.amount
      deposits++
    },
    snapshot: () => ({ balances, deposits }),
    restore: (state) => {
      const restored = state as { balances: Record<string, number>; deposits: number }
      balances = { ...restored.balances }
      deposits = restored.deposits
    },
  }
}

/**
 * Correct, and waiting on real I/O: each deposit, the snapshot and the
 * restore go through a timer of this machine's event loop, as an
 * application writing to a file or a database would wait, beyond any
 * microtask turn.
 */
export function bankWritingThroughTimer(): Application {
  const applied = bank()
  const io = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 3))
  return {
    ...applied,
    entry: async (entry: AppliedEntry) => {
      await io()
      return applied.entry(entry)
    },
    snapshot: async () => {
      await io()
      return applied.snapshot?.() ?? null
    },
    restore: async (state) => {
      await io()
      return applied.restore?.(state)
    },
  }
}

/**
 * Correct, with its own immigration: the leader's `outOfBand()` reads the
 * history up to the newcomer's arrival through a timer (a database read),
 * and the newcomer's `join()` installs it.
 */
export function historyServedThroughTimer(): Application {
  let history: JsonValue[] = []
  return {
    entry: ({ position, value }: AppliedEntry) => void history.push([position, value]),
    government: (government: Government) => void history.push(['government', government.promise]),
    snapshot: () => history,
    outOfBand: async (_name, post) => {
      await new Promise((resolve) => setTimeout(resolve, 2))
      const arrival = (post as { arrival: string }).arrival
      const at = history.findIndex((item) => Array.isArray(item) && item[0] === 'government' && item[1] === arrival)
      if (at < 0) throw new Error(`arrival ${arrival} not applied here`)
      return history.slice(0, at + 1)
    },
    join: async ({ arrival, outOfBand }) => {
      history = (await outOfBand('history', { arrival })) as JsonValue[]
    },
  }
}

/** Broken: a count kept under a symbol key, non-enumerable, and left out of its snapshot. */
export function bankHidingCountUnderSymbol(): Application {
  const applied = bank()
  const count = Symbol('count')
  const application = {
    entry: (entry: AppliedEntry) => {
      applied.entry(entry)
      const fields = application as unknown as Record<symbol, number>
      fields[count] = (fields[count] ?? 0) + 1
    },
    snapshot: applied.snapshot,
    restore: applied.restore,
  } as Application
  Object.defineProperty(application, count, { value: 0, writable: true, enumerable: false })
  return application
}

/** Broken: an entry() that never settles once it meets a deposit of exactly 7. */
export function bankStallingOnSeven(): Application {
  const applied = bank()
  return {
    ...applied,
    entry: (entry: AppliedEntry) => {
      if (isDeposit(entry.value) && entry.value.amount === 7) return new Promise<void>(() => {})
      return applied.entry(entry)
    },
  }
}

/**
 * Correct, and asynchronous: each deposit is applied a few microtask turns
 * after `entry` is called, as an application writing through an async store
 * would; its enqueue may be acknowledged only once that is done.
 */
export function bankApplyingLater(): Application {
  const applied = bank()
  return {
    ...applied,
    entry: async (entry: AppliedEntry) => {
      for (let turn = 0; turn < 3; turn++) await null
      return applied.entry(entry)
    },
  }
}

/** Broken: stamps each deposit with the wall clock, which differs from member to member. */
export function bankStampingTime(): Application {
  const latest: Record<string, number> = {}
  let balances: Record<string, number> = {}
  return {
    entry: ({ value }: AppliedEntry) => {
      if (!isDeposit(value)) return
      balances[value.deposit] = (balances[value.deposit] ?? 0) + value.amount
      latest[value.deposit] = Date.now()
    },
    snapshot: () => ({ balances, latest }),
    restore: (state) => {
      const restored = state as { balances: Record<string, number>; latest: Record<string, number> }
      balances = { ...restored.balances }
      Object.assign(latest, restored.latest)
    },
  }
}

/** Broken the same way, through \`Date()\` called as a function: the time as text. */
export function bankNotingDate(): Application {
  let balances: Record<string, number> = {}
  let noted = ''
  return {
    entry: ({ value }: AppliedEntry) => {
      if (!isDeposit(value)) return
      balances[value.deposit] = (balances[value.deposit] ?? 0) + value.amount
      noted = Date()
    },
    snapshot: () => ({ balances, noted }),
    restore: (state) => {
      const restored = state as { balances: Record<string, number>; noted: string }
      balances = { ...restored.balances }
      noted = restored.noted
    },
  }
}

/** Broken: pays a random bonus, drawn on each member separately. */
export function bankWithRandomBonus(): Application {
  let balances: Record<string, number> = {}
  return {
    entry: ({ value }: AppliedEntry) => {
      if (!isDeposit(value)) return
      const bonus = Math.random() < 0.5 ? 1 : 0
      balances[value.deposit] = (balances[value.deposit] ?? 0) + value.amount + bonus
    },
    snapshot: () => ({ balances }),
    restore: (state) => {
      balances = { ...(state as { balances: Record<string, number> }).balances }
    },
  }
}

/** Broken: its snapshot forgets the deposit count, so a newcomer numbers deposits from 0. */
export function bankForgettingCount(): Application {
  let balances: Record<string, number> = {}
  let deposits = 0
  let receipts: string[] = []
  return {
    entry: ({ value }: AppliedEntry) => {
      if (!isDeposit(value)) return
      deposits++
      balances[value.deposit] = (balances[value.deposit] ?? 0) + value.amount
      receipts = [...receipts.slice(-9), `receipt ${deposits}`]
    },
    snapshot: () => ({ balances, receipts }),
    restore: (state) => {
      const restored = state as { balances: Record<string, number>; receipts: string[] }
      balances = { ...restored.balances }
      receipts = [...restored.receipts]
    },
  }
}

/**
 * Broken: its snapshot forgets the deposits' history, which nothing it
 * returns ever shows. Only the variables `entry` closes over tell it apart:
 * a newcomer's history starts empty at its arrival.
 */
export function bankForgettingHistory(): Application {
  let balances: Record<string, number> = {}
  const history: number[] = []
  return {
    entry: ({ value }: AppliedEntry) => {
      if (!isDeposit(value)) return
      balances[value.deposit] = (balances[value.deposit] ?? 0) + value.amount
      history.push(value.amount)
    },
    snapshot: () => ({ balances }),
    restore: (state) => {
      balances = { ...(state as { balances: Record<string, number> }).balances }
    },
  }
}

/**
 * Broken: its snapshot forgets who made the last deposit, a field the next
 * deposit overwrites. A newcomer differs only from its restore to its next
 * entry, so members at the same applied position, compared later, agree
 * again: only its state just after `restore()` shows it.
 */
export function bankForgettingLastDepositor(): Application & { lastDepositor(): string | null } {
  let balances: Record<string, number> = {}
  let lastDepositor: string | null = null
  return {
    lastDepositor: () => lastDepositor,
    entry: ({ value }: AppliedEntry) => {
      if (!isDeposit(value)) return
      balances[value.deposit] = (balances[value.deposit] ?? 0) + value.amount
      lastDepositor = value.deposit
    },
    snapshot: () => ({ balances }),
    restore: (state) => {
      balances = { ...(state as { balances: Record<string, number> }).balances }
    },
  }
}

/**
 * Correct, though around the function that builds it, numbers every member
 * shares change as the run goes: one counts the applications built, one the
 * deposits applied by any member. Between a leader's snapshot and a
 * newcomer's restore they move, and they are no state of either.
 */
export function banksSharingCounters(): { application: (id: string) => Application; counters: () => { built: number; appliedAnywhere: number } } {
  let built = 0
  let appliedAnywhere = 0
  const application = (): Application => {
    built++
    let balances: Record<string, number> = {}
    return {
      entry: ({ value }: AppliedEntry) => {
        if (!isDeposit(value)) return
        balances[value.deposit] = (balances[value.deposit] ?? 0) + value.amount
        appliedAnywhere++
      },
      snapshot: () => ({ balances }),
      restore: (state) => {
        balances = { ...(state as { balances: Record<string, number> }).balances }
      },
    }
  }
  return { application, counters: () => ({ built, appliedAnywhere }) }
}

/** Broken: its restore() throws on the state its own snapshot() gives before any deposit. */
export function bankFailingToRestoreEmpty(): Application {
  let balances: Record<string, number> | null = null
  return {
    entry: ({ value }: AppliedEntry) => {
      if (!isDeposit(value)) return
      balances ??= {}
      balances[value.deposit] = (balances[value.deposit] ?? 0) + value.amount
    },
    snapshot: () => balances,
    restore: (state) => {
      balances = { ...(state as Record<string, number>) }
      if (state === null) throw new TypeError('no balances in the state')
    },
  }
}

/**
 * Correct, though its closures hold more than its state: the member's id,
 * and, around the function that builds it, variables every member shares
 * and that change while the run goes on.
 */
export function bankClosingOverItsId(shared: { built: number }): (id: string) => Application {
  return (id) => {
    shared.built++
    const me = id
    let balances: Record<string, number> = {}
    return {
      entry: ({ value }: AppliedEntry) => {
        if (!isDeposit(value) || me === '') return
        balances[value.deposit] = (balances[value.deposit] ?? 0) + value.amount
        shared.built += 0
      },
      snapshot: () => ({ balances }),
      restore: (state) => {
        balances = { ...(state as { balances: Record<string, number> }).balances }
      },
    }
  }
}

/** Broken the same way, as a class whose snapshot leaves out a field the state never shows otherwise. */
export class CounterForgettingTotal implements Application {
  count = 0
  total = 0

  entry({ value }: AppliedEntry): void {
    if (!isDeposit(value)) return
    this.count++
    this.total += value.amount
  }

  snapshot(): JsonValue {
    return { count: this.count }
  }

  restore(state: unknown): void {
    this.count = (state as { count: number }).count
  }
}

/** Broken the same way, with the forgotten total in a private field, which no enumeration shows. */
export class CounterForgettingPrivateTotal implements Application {
  #count = 0
  #total = 0

  entry({ value }: AppliedEntry): void {
    if (!isDeposit(value)) return
    this.#count++
    this.#total += value.amount
  }

  snapshot(): JsonValue {
    return { count: this.#count }
  }

  restore(state: unknown): void {
    this.#count = (state as { count: number }).count
  }
}

/** A helper an application may keep its accounts in: its state is private. */
class Ledger {
  #balances = new Map<string, number>()
  #deposits = 0

  deposit(account: string, amount: number): void {
    this.#balances.set(account, (this.#balances.get(account) ?? 0) + amount)
    this.#deposits++
  }

  get deposits(): number {
    return this.#deposits
  }

  state(): { balances: Record<string, number>; deposits: number } {
    return { balances: Object.fromEntries(this.#balances), deposits: this.#deposits }
  }

  static from(state: { balances: Record<string, number>; deposits: number }): Ledger {
    const ledger = new Ledger()
    for (const [account, amount] of Object.entries(state.balances)) ledger.#balances.set(account, amount)
    ledger.#deposits = state.deposits
    return ledger
  }
}

/**
 * Correct, though its fields hold ids that differ from member to member or
 * match one member's own: its own id, who made the last deposit (in the
 * snapshot too), and the leader and government it was last handed by
 * `government()`, which every member is handed at the same place in the log.
 */
export class BankNotingWho implements Application {
  readonly id: string
  lastDepositBy: string | null = null
  leader: string | null = null
  #government: Government | null = null
  #balances: Record<string, number> = {}

  constructor(id: string) {
    this.id = id
  }

  entry({ value, from }: AppliedEntry): void {
    if (!isDeposit(value)) return
    this.#balances[value.deposit] = (this.#balances[value.deposit] ?? 0) + value.amount
    this.lastDepositBy = from
  }

  government(government: Government): void {
    this.leader = government.majority[0] ?? null
    this.#government = government
  }

  snapshot(): JsonValue {
    return { balances: this.#balances, lastDepositBy: this.lastDepositBy }
  }

  restore(state: JsonValue): void {
    const restored = state as { balances: Record<string, number>; lastDepositBy: string | null }
    this.#balances = { ...restored.balances }
    this.lastDepositBy = restored.lastDepositBy
  }

  members(): readonly string[] {
    return this.#government?.majority ?? []
  }
}

/** Correct: a class whose state is a helper object with private fields, all of it in the snapshot. */
export class LedgerBank implements Application {
  #ledger = new Ledger()

  entry({ value }: AppliedEntry): void {
    if (isDeposit(value)) this.#ledger.deposit(value.deposit, value.amount)
  }

  snapshot(): JsonValue {
    return this.#ledger.state()
  }

  restore(state: unknown): void {
    this.#ledger = Ledger.from(state as { balances: Record<string, number>; deposits: number })
  }
}

/**
 * Broken: the snapshot keeps only the count of deposits, and the balances
 * live in the helper's private fields, which neither the application's own
 * fields nor its private fields show as they are: only reading the helper's.
 */
export class LedgerBankForgettingBalances implements Application {
  ledger = new Ledger()

  entry({ value }: AppliedEntry): void {
    if (isDeposit(value)) this.ledger.deposit(value.deposit, value.amount)
  }

  snapshot(): JsonValue {
    return { deposits: this.ledger.deposits }
  }

  restore(state: unknown): void {
    this.ledger = Ledger.from({ balances: {}, deposits: (state as { deposits: number }).deposits })
  }
}
