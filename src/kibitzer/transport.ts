import type { Message } from '../paxos/types.js'

/**
 * Carries a batch of one legislator's messages to one peer. The promise
 * settles when the peer has taken the batch (or failed to); a rejection is a
 * lost batch, which Paxos tolerates: the legislator repeats what matters.
 * It may resolve with the peer's answer: messages the peer's legislator had
 * for this one once it took the batch (see `Kibitzer.exchange`), carried
 * back on the same exchange instead of a send of their own.
 */
export interface Transport {
  send(to: string, messages: readonly Message[]): Promise<readonly Message[] | void>
}
