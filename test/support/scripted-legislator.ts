// A stand-in legislator for kibitzer tests: what it sends is what a test puts
// in its outbox, and it records what it receives and how often it is asked.

import type { Clock, Driven } from '../../src/index.js'
import type { Committed, Envelope, Message, Ready } from '../../src/paxos/types.js'

export class ScriptedLegislator implements Driven {
  readonly id = 'self'
  outbox: Envelope[] = []
  committed: Committed[] = []
  received: [string, Message][] = []
  /** How many times `ready()` was called. */
  readies = 0
  /** When set, each message received adds its replies to the outbox. */
  reply: ((from: string, message: Message) => Envelope[]) | null = null

  tick(): void {}

  receive(from: string, message: Message): void {
    this.received.push([from, message])
    if (this.reply !== null) this.outbox.push(...this.reply(from, message))
  }

  ready(): Ready {
    this.readies++
    const ready: Ready = { persist: { promised: null, accepted: [] }, messages: this.outbox, committed: this.committed }
    this.outbox = []
    this.committed = []
    return ready
  }
}

/** A clock whose time stands still and whose timers never fire. */
export const idleClock: Clock = {
  now: () => 0,
  setInterval: () => 0,
  clearInterval: () => {},
  setTimeout: () => 0,
  clearTimeout: () => {},
}
