// When this colleague last received messages from each peer: on the leader,
// how long each member has been silent. Reported by health as `heardMs`.

export class HeardFrom {
  private readonly at = new Map<string, number>()

  constructor(private readonly now: () => number) {}

  record(id: string): void {
    this.at.set(id, this.now())
  }

  /** Milliseconds since each of `members` was last heard; forgets everyone else, which keeps it bounded. */
  ages(members: readonly string[]): Record<string, number> {
    const keep = new Set(members)
    const now = this.now()
    const ages: Record<string, number> = {}
    for (const [id, at] of this.at) {
      if (keep.has(id)) ages[id] = Math.max(0, now - at)
      else this.at.delete(id)
    }
    return ages
  }
}
