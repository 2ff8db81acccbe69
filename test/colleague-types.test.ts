// Values and snapshots are typed: what JSON cannot carry is a compile error.
// The checks are the @ts-expect-error lines below: `npm test` type-checks this
// file before it runs, and an expected error that does not happen fails the
// build. The runtime test shows the same types hold for a real island.

import { strict as assert } from 'node:assert'
import { test } from 'node:test'
import { Colleague, type AppliedEntry, type JsonValue } from '../src/index.js'

type Move = { readonly piece: string; readonly to: readonly [number, number]; readonly note?: string }
type Board = { readonly moves: readonly Move[] }

/** Never called: the compiler is the test. */
export function typeChecks(any: Colleague, chess: Colleague<Move, Board>): void {
  // @ts-expect-error a function is not JSON
  void any.enqueue(() => 1)
  // @ts-expect-error a bigint is not JSON
  void any.enqueue(10n)
  // @ts-expect-error a symbol is not JSON
  void any.enqueue(Symbol('x'))
  // @ts-expect-error undefined is not a JSON value
  void any.enqueue(undefined)
  // @ts-expect-error a function deep inside is not JSON either
  void any.enqueue({ nested: [{ callback: () => 1 }] })
  // @ts-expect-error a Map is not JSON (it would travel as {})
  void any.enqueue(new Map([['a', 1]]))
  void any.enqueue({ a: [1, 'two', null, true, { b: undefined }] })
  void chess.enqueue({ piece: 'knight', to: [2, 3] })
  // @ts-expect-error the value must be a Move
  void chess.enqueue({ piece: 'knight', to: 'c3' })
  // @ts-expect-error the value must be a Move, not any JSON
  void chess.enqueue(42)

  new Colleague<Move, Board>({
    islandName: 'chess',
    application: {
      entry: ({ value }: AppliedEntry<Move>) => {
        const piece: string = value.piece
        void piece
      },
      snapshot: () => ({ moves: [] }),
      restore: (state) => {
        const moves: readonly Move[] = state.moves
        void moves
      },
    },
  })
  new Colleague<Move, Board>({
    islandName: 'chess',
    application: {
      entry: () => {},
      // @ts-expect-error the snapshot must be a Board
      snapshot: () => ({ moves: 'none' }),
    },
  })
  new Colleague({
    islandName: 'inferred',
    application: {
      entry: () => {},
      // @ts-expect-error a snapshot with a bigint in it is not JSON
      snapshot: () => ({ total: 1n }),
    },
  })
  // The snapshot's type is inferred from `snapshot` and given to `restore`.
  new Colleague({
    islandName: 'inferred',
    application: {
      entry: () => {},
      snapshot: () => ({ total: 1 }),
      restore: (state) => {
        const total: number = state.total
        void total
      },
    },
  })
}

test('a typed colleague applies its values with their type', { timeout: 30_000 }, async () => {
  const applied: Move[] = []
  let restored: Board | null = null
  const colleague = new Colleague<Move, Board>({
    islandName: 'typed',
    application: {
      entry: ({ value }) => void applied.push(value),
      snapshot: () => ({ moves: applied }),
      restore: (state) => void (restored = state),
    },
  })
  try {
    await colleague.listen()
    await colleague.bootstrap()
    const move: Move = { piece: 'pawn', to: [4, 4], note: 'opening' }
    await colleague.enqueue(move)
    await colleague.enqueue({ piece: 'bishop', to: [3, 3] })
    assert.deepEqual(applied, [move, { piece: 'bishop', to: [3, 3] }])
    assert.equal(restored, null)
    const json: JsonValue = applied
    assert.ok(Array.isArray(json))
    // Past the types (JavaScript, or a cast), the same values are refused at run time.
    const untyped = colleague as unknown as Colleague<JsonValue>
    await assert.rejects(untyped.enqueue((() => 1) as unknown as JsonValue), { code: 'INVALID_VALUE' })
    await assert.rejects(untyped.enqueue(10n as unknown as JsonValue), { code: 'INVALID_VALUE' })
    assert.equal(applied.length, 2)
  } finally {
    await colleague.shutdown()
  }
})
