// A barrier is an entry in the log like a value, and the application never
// sees it. Its text is JSON (so the leader's check of forwarded values takes
// it) that `enqueue` can never produce: JSON.stringify never begins with
// whitespace, so no application value is ever mistaken for a barrier.

export const BARRIER_TEXT = ' null'

export function isBarrier(text: unknown): boolean {
  return text === BARRIER_TEXT
}
