// When this colleague last received messages from each peer: on the leader,
// how long each member has been silent. Reported by health as `heardMs`.

/** Senders remembered; past it the one heard from longest ago is forgotten. */
export const HEARD_SENDERS_MAX = 1024

export class HeardFrom {
  /** Sender to when it was last heard, least recently heard first. */
  private readonly at = new Map<string, number>()

  constructor(
    private readonly now: () => number,
    private readonly sendersMax = HEARD_SENDERS_MAX,
  ) {}

  record(id: string): void {
    // Re-inserted so that the map stays ordered by recency: a crash-only island
    // sees a new id at every restart, and the oldest are the ones to drop.
    this.at.delete(id)
    this.at.set(id, this.now())
    if (this.at.size > this.sendersMax) {
      const oldest = this.at.keys().next().value
      if (oldest !== undefined) this.at.delete(oldest)
    }
  }

  /** Milliseconds since each of `members` was last heard (members never heard are absent). */
  ages(members: readonly string[]): Record<string, number> {
    const now = this.now()
    const ages: Record<string, number> = {}
    for (const id of members) {
      const at = this.at.get(id)
      if (at !== undefined) ages[id] = Math.max(0, now - at)
    }
    return ages
  }
}
