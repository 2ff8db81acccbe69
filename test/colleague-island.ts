// Helpers for in-process islands over real loopback HTTP. Every wait is
// bounded; nothing here asserts on timing.

import { Colleague, type ColleagueOptions, type JsonValue } from '../src/index.js'

export const TEST_TIMING = { pingMs: 50, timeoutMs: 250, joinTimeoutMs: 10_000, outOfBandTimeoutMs: 2_000 } as const

/** A replicated list: the smallest application that shows order and state transfer. */
export class ListApplication {
  readonly values: JsonValue[] = []
  readonly positions: number[] = []
  restored: unknown = undefined

  entry(entry: { position: number; value: JsonValue }): void {
    this.values.push(entry.value)
    this.positions.push(entry.position)
  }

  snapshot(): JsonValue {
    return { values: this.values, positions: this.positions }
  }

  restore(state: unknown): void {
    this.restored = state
    const { values, positions } = state as { values: JsonValue[]; positions: number[] }
    this.values.push(...values)
    this.positions.push(...positions)
  }
}

export interface Member {
  readonly colleague: Colleague
  readonly app: ListApplication
  readonly url: string
}

export async function startMember(
  islandName: string,
  overrides: Partial<Omit<ColleagueOptions, 'application'>> = {},
): Promise<Member> {
  const app = new ListApplication()
  const colleague = new Colleague({
    islandName,
    host: '127.0.0.1',
    port: 0,
    ...TEST_TIMING,
    ...overrides,
    application: {
      entry: (entry) => app.entry(entry),
      snapshot: () => app.snapshot(),
      restore: (state) => app.restore(state),
    },
  })
  const { url } = await colleague.listen()
  return { colleague, app, url }
}

/** Bootstraps the first member and joins the others through it, one at a time. */
export async function startIsland(
  size: number,
  islandName = 'test',
  overrides: Partial<Omit<ColleagueOptions, 'application'>> = {},
): Promise<Member[]> {
  const members: Member[] = []
  try {
    for (let index = 0; index < size; index++) {
      const member = await startMember(islandName, { colleagueId: `m${index}`, ...overrides })
      members.push(member)
      if (index === 0) await member.colleague.bootstrap()
      else await member.colleague.join((members[0] as Member).url)
    }
  } catch (error) {
    // A failed start must not leave servers behind: they would keep the test file alive.
    await stopAll(members)
    throw error
  }
  return members
}

export async function stopAll(members: readonly Member[]): Promise<void> {
  await Promise.all(members.map((member) => member.colleague.shutdown()))
}

/** Polls `predicate` until it holds; throws after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/**
 * Waits until every member applied the same government, naming them all
 * naturalized and holding the largest odd parliament they allow: after that,
 * a quiet island makes no more government changes.
 */
export async function settle(members: readonly Member[], parliamentSize = 5): Promise<void> {
  const ids = members.map((member) => member.colleague.colleagueId)
  const odd = Math.min(parliamentSize, ids.length % 2 === 1 ? ids.length : ids.length - 1)
  await waitFor(() => {
    const governments = members.map((member) => member.colleague.health().government)
    const first = governments[0]
    if (first === null || first === undefined) return false
    return (
      governments.every((government) => government?.number === first.number) &&
      ids.every((id) => first.naturalized.includes(id)) &&
      first.majority.length + first.minority.length === odd
    )
  }, 20_000, 'the island to settle')
}
