// A simulated network between whole colleagues. Each member gets a
// `PeerTransport` whose requests (kibitz, join, out-of-band) travel on the
// simulated clock to the receiver's `colleague.request(type, body)`, and whose
// answers travel back the same way. Requests and answers may be lost,
// duplicated, delayed (which reorders them) and blocked by partitions, one
// direction or both; a crashed receiver refuses the connection; a paused one
// takes the request when it wakes. The caller's timeout runs on its own clock.

import type { PeerRoute, PeerTransport, PostAnswer } from '../colleague/peer-client.js'
import type { MemberClock, Scheduler } from './scheduler.js'
import type { Random } from './prng.js'

export interface PeerFaults {
  /** Probability that a request or an answer is lost. */
  readonly lossRate: number
  /** Probability that a request is delivered twice. */
  readonly duplicateRate: number
  /** Each request and answer takes 1 + int(delayMsMax + 1) ms. */
  readonly delayMsMax: number
  /** Probability that one request or answer is held back up to four times longer, overtaking order. */
  readonly reorderRate: number
}

export const CALM: PeerFaults = { lossRate: 0, duplicateRate: 0, delayMsMax: 2, reorderRate: 0 }

export interface PeerNetworkStats {
  requests: number
  delivered: number
  lost: number
  duplicated: number
  blocked: number
  refused: number
  answersLost: number
}

/** What the network needs of a member. */
export interface Endpoint {
  readonly id: string
  readonly clock: MemberClock
  /** False once the process is gone: requests to it are refused. */
  alive(): boolean
  /** The receiver side: the colleague's transport-agnostic entry point. */
  receive(route: PeerRoute, body: string): Promise<PostAnswer>
}

/** What the simulation watches on the wire. */
export interface WireObserver {
  /** A member posted a request; `settled` learns whether it got a 2xx answer. */
  posted(from: string, to: string | null, route: PeerRoute, body: string): ((ok: boolean) => void) | undefined
}

export class PeerNetwork {
  readonly stats: PeerNetworkStats = { requests: 0, delivered: 0, lost: 0, duplicated: 0, blocked: 0, refused: 0, answersLost: 0 }
  readonly #scheduler: Scheduler
  readonly #random: Random
  readonly #byLocation = new Map<string, Endpoint>()
  readonly #blocked = new Set<string>()
  #faults: PeerFaults = CALM
  #observer: WireObserver | null = null
  /**
   * A request already on its way arrives though its sender died meanwhile (a
   * power cut after the send); the answer is lost with the sender. Default
   * false: a dead sender's requests vanish too.
   */
  sentOutlivesSender = false
  readonly #requestLost = (): void => {
    this.stats.lost++
  }
  readonly #answerLost = (): void => {
    this.stats.answersLost++
  }

  constructor(scheduler: Scheduler, random: Random) {
    this.#scheduler = scheduler
    this.#random = random
  }

  get faults(): PeerFaults {
    return this.#faults
  }

  set observer(observer: WireObserver) {
    this.#observer = observer
  }

  setFaults(faults: Partial<PeerFaults>): void {
    this.#faults = { ...this.#faults, ...faults }
  }

  attach(location: string, endpoint: Endpoint): void {
    this.#byLocation.set(location, endpoint)
  }

  /** Blocks both directions between every member of `left` and every member of `right`. */
  partition(left: readonly string[], right: readonly string[]): void {
    this.partitionOneWay(left, right)
    this.partitionOneWay(right, left)
  }

  /** Blocks only what `from` sends to `to` (requests and answers alike). */
  partitionOneWay(from: readonly string[], to: readonly string[]): void {
    for (const a of from) for (const b of to) if (a !== b) this.#blocked.add(`${a}\u0000${b}`)
  }

  heal(): void {
    this.#blocked.clear()
  }

  get partitioned(): boolean {
    return this.#blocked.size > 0
  }

  /** The transport one member's colleague sends through. */
  transport(from: Endpoint): PeerTransport {
    return {
      post: (location, route, body, timeoutMs) => this.#post(from, location, route, body, timeoutMs),
      close: async () => {},
    }
  }

  #post(from: Endpoint, location: string, route: PeerRoute, body: string, timeoutMs: number): Promise<PostAnswer> {
    this.stats.requests++
    const to = this.#byLocation.get(location)
    const settled = this.#observer?.posted(from.id, to?.id ?? null, route, body)
    const outlives = this.sentOutlivesSender && from.alive()
    return new Promise<PostAnswer>((resolve, reject) => {
      let done = false
      const timer = from.clock.setTimeout(() => finish(networkError(`POST ${route} to ${location} timed out`)), timeoutMs)
      const finish = (outcome: PostAnswer | Error): void => {
        if (done) return
        done = true
        from.clock.clearTimeout(timer)
        const ok = !(outcome instanceof Error) && outcome.status >= 200 && outcome.status <= 299
        settled?.(ok)
        if (outcome instanceof Error) reject(outcome)
        else resolve(outcome)
      }
      if (to === undefined) {
        this.#after(() => finish(networkError(`no host at ${location}`)))
        return
      }
      const deliver = (): void => {
        if (!outlives && !from.alive()) return
        if (!to.alive()) {
          this.stats.refused++
          this.#after(() => finish(networkError(`connection to ${location} refused`)))
          return
        }
        if (this.#isBlocked(from.id, to.id)) {
          this.stats.blocked++
          return
        }
        if (this.#scheduler.now < to.clock.pausedUntil) {
          this.#scheduler.at(to.clock.pausedUntil, deliver)
          return
        }
        this.stats.delivered++
        void to.receive(route, body).then((answer) => {
          if (!to.alive()) return
          this.#carry(() => {
            if (this.#isBlocked(to.id, from.id)) this.stats.blocked++
            else if (!outlives || from.alive()) finish(answer)
          }, this.#answerLost)
        })
      }
      this.#carry(deliver, this.#requestLost)
      if (this.#faults.duplicateRate > 0 && this.#random.chance(this.#faults.duplicateRate)) {
        this.stats.duplicated++
        this.#carry(deliver, this.#requestLost)
      }
    })
  }

  /** Runs `arrive` one network delay from now, unless the message is lost. */
  #carry(arrive: () => void, lost: () => void): void {
    if (this.#faults.lossRate > 0 && this.#random.chance(this.#faults.lossRate)) {
      lost()
      return
    }
    this.#after(arrive)
  }

  #after(run: () => void): void {
    const { delayMsMax, reorderRate } = this.#faults
    let delay = 1 + (delayMsMax > 0 ? this.#random.int(delayMsMax + 1) : 0)
    if (reorderRate > 0 && this.#random.chance(reorderRate)) delay += this.#random.int(3 * delay + 1)
    this.#scheduler.at(this.#scheduler.now + delay, run)
  }

  #isBlocked(from: string, to: string): boolean {
    return this.#blocked.size > 0 && this.#blocked.has(`${from}\u0000${to}`)
  }
}

/**
 * A failure of the simulated network, as the HTTP client reports one. Its
 * stack would show only the scheduler, so none is taken: capturing it was
 * the dearest part of a refused or timed-out request.
 */
function networkError(message: string): Error {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return new Error(message)
  } finally {
    Error.stackTraceLimit = limit
  }
}
