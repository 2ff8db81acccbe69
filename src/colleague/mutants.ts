// Deliberately broken variants of the colleague, used only to prove that the
// whole-colleague simulator bites. They are switched on through an option
// key that is not part of the public API, and each one changes one decision
// in one place.

import type { Transport } from '../kibitzer/transport.js'
import type { Message } from '../paxos/types.js'

/** Colleague mutants, each caught by the simulator within 200 seeds. */
export const COLLEAGUE_MUTANTS = [
  /** The newcomer's out-of-band request goes to the leader it knows now, not its arrival government's. */
  'oob-current-leader',
  /** A failed out-of-band request is tried once more instead of crashing the newcomer. */
  'oob-retry',
  /** The newcomer applies the entries after its arrival while its state is still being fetched. */
  'apply-before-restore',
  /** A submission forwarded once is never forwarded again (after a loss or a leader change). */
  'drop-reforward',
  /** A leader applies its own values as they were passed to enqueue, not as decoded from the log. */
  'leader-applies-original',
  /** A member takes a peer's refusal to hear its candidacy (a leader is alive) as news of its exile. */
  'refusal-as-exile',
  /** An enqueue's signal is never listened to: an aborted wait goes on, and resolves once the value applies. */
  'abort-ignored',
  /** An aborted wait rejects with an error of its own, not the signal's reason. */
  'abort-own-reason',
] as const
export type ColleagueMutant = (typeof COLLEAGUE_MUTANTS)[number]

/** The option key a simulator sets to run a mutant; absent from ColleagueOptions on purpose. */
export const MUTANT_OPTION: unique symbol = Symbol('paxos-colleague mutant')

export interface MutantOption {
  readonly [MUTANT_OPTION]?: ColleagueMutant
}

/**
 * The kibitz transport as the mutant changes it: `drop-reforward` loses every
 * forward of a submission already forwarded; `refusal-as-exile` reads a
 * `leader-alive` refusal in an answer as `exiled`.
 */
export function mutate(mutant: ColleagueMutant | null, transport: Transport): Transport {
  if (mutant === 'refusal-as-exile') {
    return {
      send: async (to: string, messages: readonly Message[]) => {
        const answer = await transport.send(to, messages)
        return answer?.map((message) => (message.type === 'reject' && message.reason === 'leader-alive' ? { ...message, reason: 'exiled' } : message))
      },
    }
  }
  if (mutant !== 'drop-reforward') return transport
  const forwarded = new Set<string>()
  return {
    send: (to: string, messages: readonly Message[]) => {
      const kept: Message[] = []
      for (const message of messages) {
        if (message.type !== 'forward' || message.submissions.length === 0) {
          kept.push(message)
          continue
        }
        const fresh = message.submissions.filter((submission) => !forwarded.has(`${submission.from}#${submission.seq}`))
        for (const submission of fresh) forwarded.add(`${submission.from}#${submission.seq}`)
        if (fresh.length > 0) kept.push({ ...message, submissions: fresh })
      }
      return transport.send(to, kept)
    },
  }
}
