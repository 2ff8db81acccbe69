import type { Message } from '../paxos/types.js'

/**
 * Carries a batch of one legislator's messages to one peer. The promise
 * settles when the peer has taken the batch (or failed to); a rejection is a
 * lost batch, which Paxos tolerates: the legislator repeats what matters.
 */
export interface Transport {
  send(to: string, messages: readonly Message[]): Promise<void>
}
