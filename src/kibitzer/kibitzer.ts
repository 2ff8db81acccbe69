// The kibitzer drives one legislator: it ticks it on a clock, feeds it the
// messages peers send, and after every input asks it once for its output
// (`ready()`), coalescing many inputs into one flush. Outgoing messages are
// grouped per peer so that each flush costs at most one send per peer.
//
// The legislator is synchronous and not re-entrant: every call into it goes
// through `act`, which refuses to run while a flush is inside `ready()`, and
// committed entries leave through `onCommitted` only after `ready()` returned.
//
// A batch that arrives on an exchange the peer waits on (`exchange`) is
// flushed at once, and what the legislator has for that peer goes back as the
// answer: an acceptor's reply to the leader's round then costs no request of
// its own and no wait for a deferred flush.

import type { Committed, Message, Ready } from '../paxos/types.js'
import type { Clock, TimerHandle } from './clock.js'
import type { Transport } from './transport.js'

/** What the kibitzer needs of a legislator. */
export interface Driven {
  readonly id: string
  tick(): void
  receive(from: string, message: Message): void
  ready(): Ready
}

export interface KibitzerOptions<L extends Driven> {
  legislator: L
  transport: Transport
  clock: Clock
  tickMs: number
  /** Receives committed entries in order, after `ready()` returned. */
  onCommitted(committed: readonly Committed[]): void
  /** A send failed: the batch is lost (Paxos repeats what matters). */
  onSendFailure?(to: string, error: unknown): void
  /** The legislator threw: a bug in the core. The kibitzer has stopped. */
  onFault(error: unknown): void
  /**
   * Durable mode: makes `ready.persist` durable (write and fdatasync, once
   * per flush) before any of the flush's messages is handed to the
   * transport. A throw stops the kibitzer and reaches `onFault`; nothing of
   * that flush is sent.
   */
  persist?(ready: Ready): void
  /** After each flush, once its output has been handed on. */
  afterFlush?(): void
  /** Defers a flush until the current burst of inputs is in. */
  defer?(callback: () => void): void
  /** Messages waiting for one peer; beyond it the oldest are dropped. */
  peerQueueMax?: number
  /** Messages handed to the transport in one send, or back in one answer. */
  sendBatchMax?: number
  /**
   * One send to a peer is in flight at a time, and what comes meanwhile waits
   * to go in the next batch; but a send still out after this long (a lost
   * request or answer, a paused peer) no longer holds the next back, up to
   * `SENDS_IN_FLIGHT_MAX` at once. Default: never (strictly one at a time).
   */
  sendStallMs?: number
  /**
   * Which messages may travel back in an answer to `exchange` (default all);
   * the others for the same peer are sent as usual.
   */
  answerable?(message: Message): boolean
  /**
   * After a flush that committed entries, hold its messages for one more
   * flush (default false). Applying the entries resolves the application's
   * waiters, which often enqueue again at once: their round then leaves in
   * the same POST per peer as the commit announcement, instead of a second
   * POST right behind it.
   */
  coalesceAfterCommit?: boolean
  /**
   * Peers that need not hear each message at once: a leader's minority and
   * constituents, whose acknowledgements no round waits for while the
   * majority answers. With `paceMs`, a send to such a peer leaves at most
   * once per `paceMs`, carrying everything queued for it meanwhile; other
   * peers are sent to as soon as their last send settled. Asked at each
   * send, so the answer may change with the government. What a paced peer
   * waits on is not held back: the commit of its own submissions (its
   * callers wait on it), a committed government, and catch-up batches.
   */
  paced?(peer: string): boolean
  /** The least time between two sends to a paced peer; default 0 (no pacing). */
  paceMs?: number
}

export interface KibitzerStats {
  readonly flushes: number
  readonly sends: number
  readonly messagesSent: number
  readonly sendFailures: number
  readonly messagesDropped: number
  /** Messages handed back as answers to exchanges instead of sent. */
  readonly messagesAnswered: number
}

/**
 * The messages waiting for one peer, oldest first: those at `head` and after
 * in `messages`. Taking from the front moves `head` instead of shifting the
 * array, so that a peer that cannot keep up (its queue full, every new
 * message dropping the oldest) costs O(1) per message, not O(queue).
 */
interface PeerQueue {
  messages: Message[]
  head: number
  /** Sends to the peer not settled yet. */
  inFlight: number
  /** When the latest of them left (clock time). */
  sentAt: number
}

export const PEER_QUEUE_MAX = 8192
export const SEND_BATCH_MAX = 2048
/** Sends to one peer at once when the earlier ones stall (see `sendStallMs`). */
export const SENDS_IN_FLIGHT_MAX = 4

export class Kibitzer<L extends Driven> {
  private readonly legislator: L
  private readonly transport: Transport
  private readonly clock: Clock
  private readonly tickMs: number
  private readonly onCommitted: (committed: readonly Committed[]) => void
  private readonly onSendFailure: (to: string, error: unknown) => void
  private readonly onFault: (error: unknown) => void
  private readonly afterFlush: () => void
  private readonly persist: ((ready: Ready) => void) | null
  private readonly drainedWaiters: (() => void)[] = []
  private readonly defer: (callback: () => void) => void
  private readonly peerQueueMax: number
  private readonly sendBatchMax: number
  private readonly sendStallMs: number | null
  private readonly coalesceAfterCommit: boolean
  private readonly answerable: (message: Message) => boolean
  private readonly paced: (peer: string) => boolean
  private readonly paceMs: number
  /** When the latest send to each paced peer left, kept while its pace may still hold the next one back. */
  private readonly pacedSentAt = new Map<string, number>()
  /** Paced peers whose next send waits on a timer. */
  private readonly paceTimers = new Map<string, TimerHandle>()
  /**
   * Paced peers waiting on news a flush committed (their own submissions, a
   * government; see `noteAwaited`): their next send leaves at once, whatever
   * the pace. Cleared by that send.
   */
  private readonly awaited = new Set<string>()
  /** Peers whose messages a committing flush held for the next flush. */
  private readonly held = new Set<string>()
  private holding = false
  private readonly queues = new Map<string, PeerQueue>()
  private ticker: TimerHandle | null = null
  private flushScheduled = false
  /** What a deferred flush runs: one closure for the kibitzer's life, not one per flush. */
  private readonly flushLater = (): void => {
    this.flush()
  }
  private flushing = false
  private stopped = false
  private stats = { flushes: 0, sends: 0, messagesSent: 0, sendFailures: 0, messagesDropped: 0, messagesAnswered: 0 }

  constructor(options: KibitzerOptions<L>) {
    this.legislator = options.legislator
    this.transport = options.transport
    this.clock = options.clock
    this.tickMs = options.tickMs
    this.onCommitted = options.onCommitted
    this.onSendFailure = options.onSendFailure ?? (() => {})
    this.onFault = options.onFault
    this.afterFlush = options.afterFlush ?? (() => {})
    this.persist = options.persist ?? null
    this.defer = options.defer ?? ((callback) => setImmediate(callback))
    this.peerQueueMax = options.peerQueueMax ?? PEER_QUEUE_MAX
    this.sendBatchMax = options.sendBatchMax ?? SEND_BATCH_MAX
    this.sendStallMs = options.sendStallMs ?? null
    this.coalesceAfterCommit = options.coalesceAfterCommit ?? false
    this.answerable = options.answerable ?? (() => true)
    this.paced = options.paced ?? (() => false)
    this.paceMs = options.paceMs ?? 0
    if (this.peerQueueMax < 1 || this.sendBatchMax < 1) throw new RangeError('queue and batch limits must be >= 1')
    if (!(this.paceMs >= 0)) throw new RangeError('paceMs must be >= 0')
  }

  get running(): boolean {
    return this.ticker !== null
  }

  get statistics(): KibitzerStats {
    return { ...this.stats }
  }

  /** Starts ticking. Idempotent. */
  start(): void {
    if (this.stopped || this.ticker !== null) return
    this.ticker = this.clock.setInterval(() => this.onTick(), this.tickMs)
  }

  /** Stops ticking, sending and flushing for good; queued messages are dropped. */
  stop(): void {
    this.stopped = true
    if (this.ticker !== null) this.clock.clearInterval(this.ticker)
    this.ticker = null
    for (const timer of this.paceTimers.values()) this.clock.clearTimeout(timer)
    this.paceTimers.clear()
    this.pacedSentAt.clear()
    this.awaited.clear()
    this.queues.clear()
    this.held.clear()
    this.settleDrained()
  }

  /**
   * Resolves once every message handed on so far has been sent (each send
   * settled, delivered or failed), or the kibitzer stopped: what a member
   * that leaves waits for, so its last words reach the others.
   */
  drained(): Promise<void> {
    if (this.stopped || (this.queues.size === 0 && this.held.size === 0)) return Promise.resolve()
    return new Promise((resolve) => this.drainedWaiters.push(resolve))
  }

  private settleDrained(): void {
    if (!this.stopped && (this.queues.size > 0 || this.held.size > 0)) return
    const waiters = this.drainedWaiters.splice(0)
    for (const resolve of waiters) resolve()
  }

  /**
   * Runs `action` against the legislator and schedules a flush of its output.
   * Returns what `action` returned; if it threw, the kibitzer stops, reports
   * the fault, and rethrows.
   */
  act<T>(action: (legislator: L) => T): T {
    if (this.flushing) throw new Error('kibitzer: legislator called re-entrantly from inside ready()')
    if (this.stopped) throw new Error('kibitzer: stopped')
    let result: T
    try {
      result = action(this.legislator)
    } catch (error) {
      // The legislator returns operating errors as values: a throw is a bug in the core.
      this.stop()
      this.onFault(error)
      throw error
    }
    this.scheduleFlush()
    return result
  }

  /** Delivers a batch of messages from one peer. */
  receive(from: string, messages: readonly Message[]): void {
    if (this.stopped) return
    this.take(from, messages)
    this.scheduleFlush()
  }

  /** Hands a batch to the legislator; false when it threw (the kibitzer has stopped). */
  private take(from: string, messages: readonly Message[]): boolean {
    return this.guard(() => {
      for (const message of messages) this.legislator.receive(from, message)
      return true
    }) === true
  }

  /**
   * Delivers a batch from `from`, who waits for an answer, and flushes at
   * once: returns the legislator's messages for `from` that may travel in an
   * answer (after any such messages queued for it and not yet sent), to be
   * carried back on the same exchange. Messages for other peers leave as
   * usual. When a flush cannot run now, the batch is taken as by `receive`
   * and the answer is empty.
   */
  exchange(from: string, messages: readonly Message[]): Message[] {
    return this.takeAndFlush(from, messages, from)
  }

  /**
   * Takes a batch from `from` and flushes at once rather than one deferral
   * later, returning what goes back to `answering` (see `flush`). A peer's
   * answer to a send goes through here too (with no one to answer): the
   * reply that completes a majority commits and applies before the replies
   * of the rest of the peers, arriving in the same turn of the event loop,
   * are even read. When a flush cannot run now the batch is taken as by
   * `receive`.
   */
  private takeAndFlush(from: string, messages: readonly Message[], answering: string | null): Message[] {
    if (this.stopped) return []
    if (this.flushing) {
      this.receive(from, messages)
      return []
    }
    if (!this.take(from, messages)) return []
    return this.flush(answering)
  }

  private onTick(): void {
    if (this.stopped) return
    this.guard(() => this.legislator.tick())
    // A tick is a turn of its own, with nothing else to gather: its output
    // leaves now rather than one deferral later, unless a flush is already due.
    if (!this.flushScheduled) this.flush()
    this.pumpStalled()
  }

  /** With `sendStallMs`, a peer whose sends stalled gets one more in flight. */
  private pumpStalled(): void {
    if (this.sendStallMs === null) return
    for (const [peer, queue] of this.queues) {
      if (queue.inFlight > 0 && queue.messages.length > queue.head && !this.held.has(peer)) this.pump(peer)
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.stopped) return
    this.flushScheduled = true
    this.defer(this.flushLater)
  }

  /** Flushes the legislator's output; with `answering`, what may go back to that peer is returned instead of sent. */
  private flush(answering: string | null = null): Message[] {
    this.flushScheduled = false
    if (this.stopped) return []
    let ready: Ready | undefined
    this.flushing = true
    try {
      ready = this.guard(() => this.legislator.ready())
    } finally {
      this.flushing = false
    }
    if (ready === undefined) return []
    this.stats.flushes++
    // Persist before send: a promise or an accepted entry a peer may count on
    // is on disk before the message that tells it so leaves.
    if (this.persist !== null && !this.persisted(ready)) return []
    if (answering === null && this.held.size === 0 && ready.messages.length === 0 && ready.committed.length === 0) {
      // Nothing to send, hold back or apply: most ticks of a quiet island end here.
      this.holding = false
      this.afterFlush()
      return []
    }
    return this.deliver(ready, answering)
  }

  /** Writes and syncs `ready`'s persist part; false when that failed (the kibitzer has stopped). */
  private persisted(ready: Ready): boolean {
    const persist = this.persist as (ready: Ready) => void
    return this.guard(() => {
      persist(ready)
      return true
    }) === true
  }

  /** Hands a persisted flush's output on: messages to their peers (or into `answering`'s answer), committed entries, loopback. */
  private deliver(ready: Ready, answering: string | null): Message[] {
    const touched = new Set<string>()
    const loopback: Message[] = []
    const answer = answering === null ? [] : this.takeQueued(answering)
    for (const envelope of ready.messages) {
      if (envelope.to === this.legislator.id) loopback.push(envelope.message)
      else if (envelope.to === answering && this.answerable(envelope.message)) answer.push(envelope.message)
      else {
        this.enqueueFor(envelope.to, envelope.message)
        touched.add(envelope.to)
      }
    }
    if (answer.length > this.sendBatchMax) {
      // An answer is bounded like a send; the rest waits in the queue for the next one.
      for (const message of answer.splice(this.sendBatchMax)) this.enqueueFor(answering as string, message)
      touched.add(answering as string)
    }
    this.stats.messagesAnswered += answer.length
    if (this.paceMs > 0) this.noteAwaited(ready.committed, touched)
    // Hold at most one flush in a row, so that messages never wait on a steady stream of commits.
    const hold = this.coalesceAfterCommit && ready.committed.length > 0 && !this.holding
    this.holding = hold
    if (hold) {
      for (const peer of touched) this.held.add(peer)
    } else {
      for (const peer of this.held) touched.add(peer)
      this.held.clear()
      for (const peer of touched) this.pump(peer)
    }
    if (ready.committed.length > 0) this.onCommitted(ready.committed)
    if (loopback.length > 0) this.receive(this.legislator.id, loopback)
    if (hold) this.scheduleFlush()
    this.afterFlush()
    if (answer.length > 0) this.settleDrained()
    return answer
  }

  /** The messages queued for `peer` that no send has taken yet, when all may go in an answer (none while a send is in flight, to keep their order). */
  private takeQueued(peer: string): Message[] {
    const queue = this.queues.get(peer)
    if (queue === undefined || queue.inFlight > 0) return []
    const { messages, head } = queue
    for (let index = head; index < messages.length; index++) if (!this.answerable(messages[index] as Message)) return []
    this.queues.delete(peer)
    this.held.delete(peer)
    return head === 0 ? messages : messages.slice(head)
  }

  private enqueueFor(peer: string, message: Message): void {
    let queue = this.queues.get(peer)
    if (queue === undefined) {
      queue = { messages: [], head: 0, inFlight: 0, sentAt: 0 }
      this.queues.set(peer, queue)
    }
    queue.messages.push(message)
    const excess = queue.messages.length - queue.head - this.peerQueueMax
    if (excess > 0) {
      // A peer that cannot keep up loses its oldest messages; the legislator
      // resends what is still needed on later heartbeats.
      advance(queue, excess)
      this.stats.messagesDropped += excess
    }
  }

  /** Sends what is queued for `peer`: one send in flight per peer, more only past a stall. */
  private pump(peer: string): void {
    const queue = this.queues.get(peer)
    if (queue === undefined || this.stopped) return
    if (queue.inFlight > 0 && !this.stalled(queue)) return
    // Held by a committing flush: the flush it scheduled sends, with what applying enqueued.
    // Most often the peer held is the one whose answer committed, its send settling right now.
    if (this.held.has(peer)) return
    if (queue.messages.length === queue.head) {
      if (queue.inFlight > 0) return
      this.queues.delete(peer)
      const sentAt = this.pacedSentAt.get(peer)
      if (sentAt !== undefined && this.clock.now() - sentAt >= this.paceMs) this.pacedSentAt.delete(peer)
      this.settleDrained()
      return
    }
    if (queue.inFlight === 0 && this.paceMs > 0 && this.paced(peer) && this.heldByPace(peer, queue)) return
    const batch = queue.messages.slice(queue.head, queue.head + this.sendBatchMax)
    advance(queue, batch.length)
    this.awaited.delete(peer)
    queue.inFlight++
    queue.sentAt = this.clock.now()
    this.stats.sends++
    this.stats.messagesSent += batch.length
    const settle = (): void => {
      queue.inFlight--
      this.pump(peer)
    }
    let sent: Promise<readonly Message[] | void>
    try {
      sent = this.transport.send(peer, batch)
    } catch (error) {
      sent = Promise.reject(error)
    }
    sent.then((answer) => {
      // The peer's answer: its messages for this legislator, delivered like any batch from it.
      if (answer !== undefined && answer.length > 0) this.takeAndFlush(peer, answer, null)
      settle()
    }, (error: unknown) => {
      this.stats.sendFailures++
      this.onSendFailure(peer, error)
      settle()
    })
  }

  /**
   * Whether a paced peer's next send must wait for its pace (unless the peer
   * waits on news a flush committed, or what is queued is worth a send at
   * once); if so, a timer pumps it once the pace is over. Otherwise notes
   * that a send leaves now.
   */
  private heldByPace(peer: string, queue: PeerQueue): boolean {
    const now = this.clock.now()
    if (!this.awaited.has(peer) && !worthSending(queue)) {
      if (this.paceTimers.has(peer)) return true
      const wait = (this.pacedSentAt.get(peer) ?? -Infinity) + this.paceMs - now
      if (wait > 0) {
        this.paceTimers.set(
          peer,
          this.clock.setTimeout(() => {
            this.paceTimers.delete(peer)
            this.pump(peer)
          }, wait),
        )
        return true
      }
    }
    this.pacedSentAt.set(peer, now)
    return false
  }

  /**
   * Notes the paced peers that wait on what `committed` holds: those whose own
   * submissions it commits, and, when it commits a government (rare), every
   * peer with something queued, since a newcomer's arrival, a promotion or a
   * departure is news its peer waits on (a peer it leaves out is no longer
   * paced, but what waited for it still does). Adds them to `touched`, the
   * peers this flush sends to.
   */
  private noteAwaited(committed: readonly Committed[], touched: Set<string>): void {
    for (const { entry } of committed) {
      if (entry.type === 'government') {
        // Every peer with something queued, paced or no longer (one the government leaves out).
        for (const peer of this.queues.keys()) {
          if (this.paced(peer)) this.awaited.add(peer)
          touched.add(peer)
        }
        continue
      }
      if (entry.type !== 'value') continue
      const from = entry.submission.from
      if (from === this.legislator.id || this.awaited.has(from) || !this.paced(from)) continue
      this.awaited.add(from)
      if (this.queues.has(from)) touched.add(from)
    }
  }

  /** Whether the sends in flight to a peer have been out so long that the next may go beside them. */
  private stalled(queue: PeerQueue): boolean {
    return (
      this.sendStallMs !== null &&
      queue.messages.length > queue.head &&
      queue.inFlight < SENDS_IN_FLIGHT_MAX &&
      this.clock.now() - queue.sentAt >= this.sendStallMs
    )
  }

  private guard<T>(action: () => T): T | undefined {
    try {
      return action()
    } catch (error) {
      this.stop()
      this.onFault(error)
      return undefined
    }
  }
}

/**
 * Log entries (or messages) queued for a paced peer that make a send worth
 * its wake-up whatever the pace: under load a round carries this many, and a
 * minority kept in step answers as soon as the majority does, which commits
 * sooner when a majority follower is slow for a moment.
 */
export const PACE_ENTRIES_ENOUGH = 16

/**
 * Whether what is queued for a peer carries `PACE_ENTRIES_ENOUGH` entries in
 * its rounds (or chosen entries a lagging peer catches up with), or is that
 * many messages.
 */
function worthSending(queue: PeerQueue): boolean {
  const { messages, head } = queue
  if (messages.length - head >= PACE_ENTRIES_ENOUGH) return true
  let entries = 0
  for (let index = head; index < messages.length; index++) {
    const message = messages[index] as Message
    if (message.type === 'accept' && (entries += message.entries.length + message.chosen.length) >= PACE_ENTRIES_ENOUGH) return true
  }
  return false
}

/** Drops `count` messages from the front of `queue`; the array is compacted once half of it is dead. */
function advance(queue: PeerQueue, count: number): void {
  queue.head += count
  if (queue.head === queue.messages.length) {
    queue.messages = []
    queue.head = 0
  } else if (queue.head >= 1024 && queue.head * 2 >= queue.messages.length) {
    queue.messages = queue.messages.slice(queue.head)
    queue.head = 0
  }
}
