// Vote arithmetic for a parliament. Pure, so it is property-tested against a
// naive count.

/** Votes needed to decide in a parliament of `size` voters. */
export function quorumSize(size: number): number {
  return Math.floor(size / 2) + 1
}

/** Whether `votes` holds a quorum of `parliament`; votes from outsiders do not count. */
export function hasQuorum(parliament: readonly string[], votes: ReadonlySet<string>): boolean {
  const needed = quorumSize(parliament.length)
  let count = 0
  for (const id of parliament) {
    if (votes.has(id) && ++count >= needed) return true
  }
  return false
}

/**
 * The parliament size for `available` naturalized members: the largest odd
 * number not above `available` nor `parliamentSize`, and at least 1.
 */
export function parliamentSizeFor(available: number, parliamentSize: number): number {
  const cap = Math.max(1, Math.min(available, parliamentSize))
  return cap % 2 === 1 ? cap : cap - 1
}
