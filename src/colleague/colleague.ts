// The public face of the library: one colleague of an island. It owns a
// legislator (through a kibitzer), an HTTP server and client, and the
// application's callbacks, and it walks the lifecycle the README describes
// (Lifecycle): idle -> (bootstrap | join -> immigration) -> member -> shut
// down or crashed.

import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { systemClock, type Clock } from '../kibitzer/clock.js'
import { Kibitzer } from '../kibitzer/kibitzer.js'
import { electionJitterTicks, tickSchedule, type TickSchedule } from '../kibitzer/tick-schedule.js'
import { isMember, isParliament, MEMBERS_MAX, membersOf, RESERVED_IDS } from '../paxos/government.js'
import { BARRIER_TEXT, isBarrier } from './barrier.js'
import { Legislator } from '../paxos/legislator.js'
import { isMessage } from '../paxos/validate.js'
import type { Accepted, Committed, Government, LegislatorRefusal, Message, Ready, Submission } from '../paxos/types.js'
import { Applier } from './applier.js'
import { DURABLE_EXILE_MS, Durability, type StorageOptions } from './durability.js'
import { STORAGE_MUTANTS } from '../storage/durable-store.js'
import { ColleagueError, isColleagueError } from './errors.js'
import type { ColleagueState, Health } from './health.js'
import { HeardFrom } from './heard.js'
import { BodyBudget } from './read-body.js'
import { createHandler, REQUEST_TYPES, type RequestListener, type RequestType } from './http-handler.js'
import { closeServer } from './close-server.js'
import { HttpTransport } from './http-transport.js'
import { bindLogger, sheltered, silentLogger, type PinoLikeLogger } from './logger.js'
import type { JsonValue } from './json.js'
import { DEFAULTS, isHttpLocation, type Application, type ColleagueOptions } from './options.js'
import { Immigration, locationOf } from './immigration.js'
import { MUTANT_OPTION, mutate, type ColleagueMutant, type MutantOption } from './mutants.js'
import { WATCH_OPTION, type WatchOption } from './watch.js'
import { PeerClient, type PeerTransport } from './peer-client.js'
import { randomSeed, seededRandom } from './random.js'
import { firstError, LOCATION_LENGTH_MAX, validators, type KibitzBody, type Validator } from './schemas.js'
import { Signer } from './signature.js'
import { limitServer, served, SERVER_OPTIONS } from './server-limits.js'
import { decodeValue, defaultValueBytesMax, encodeValue, entryWireBytes, BODY_PER_VALUE_MIN } from './value-text.js'
import { RefusalLog } from './refusal-log.js'
import { StatusRoutes } from './status/status-routes.js'
import { ColleagueMetrics } from './metrics.js'
import { Observer, type LeaderChange, type MemberChange, type MemberExiled, type QuorumChange } from './observe.js'
import { Waiters } from './waiters.js'

export { SNAPSHOT_REQUEST } from './immigration.js'

/** Grace for in-flight HTTP responses when the server closes. */
const CLOSE_GRACE_MS = 1_000
/**
 * The leader's bound on the entries of one message (`messageBytesMax`) is a
 * body's share: an accept carries a round's entries and a catch-up's, each
 * within the bound, and the rounds not yet chosen (which a promise carries)
 * stay within twice it: half a body either way.
 */
const MESSAGE_PER_BODY = 4
/** `bodiesBytesMax` by default: room for this many whole bodies read at once, all connections together. */
const BODIES_PER_BUDGET = 4

/** Bound on replaying a durable member's log after a restart (local work only). */
const RESUME_MS_MAX = 600_000

export interface ColleagueEvents {
  crash: [error: ColleagueError]
  government: [government: Government]
  naturalized: []
  /** Emitted once shutdown has finished, whoever asked for it (a call or POST /shutdown). */
  shutdown: []
  /** A government naming a new leader was applied here (the first government applied included). */
  leader: [change: LeaderChange]
  /** Another member was removed from the island (exiled, or it left). */
  exiled: [change: MemberExiled]
  /** A newcomer appeared in a government applied here. */
  admitted: [change: MemberChange]
  /** A member moved from constituent into the parliament. */
  promoted: [change: MemberChange]
  /** This colleague stopped (false) or started again (true) hearing a majority; see README, logs. */
  quorum: [change: QuorumChange]
}

export interface Enqueued {
  readonly position: number
  readonly promise: string
}

/** What `enqueue(value, options)`, `barrier(options)`, `promoted(options)` and `leave(options)` take. */
export interface WaitOptions {
  /**
   * Ends the wait when it aborts: the call rejects with `signal.reason` (as
   * `fetch` does: an `AbortError`, or a `TimeoutError` from
   * `AbortSignal.timeout(ms)`). Only the wait ends: a value already handed
   * to the island may still be committed and applied, and a colleague that
   * began to leave goes on leaving. A signal aborted before the call
   * rejects at once and does nothing.
   */
  readonly signal?: AbortSignal
}

/** The answer to a POST /kibitz: a kibitz body from this colleague back to the sender. */
interface KibitzAnswer {
  readonly islandName: string
  readonly islandId: string
  readonly from: string
  readonly to: string
  readonly messages: readonly Message[]
}

interface Deferred<T> {
  resolve(value: T): void
  reject(error: unknown): void
  /** `performance.now()` at the call, for the enqueue latency histogram. */
  readonly startedMs: number
}

/**
 * One colleague of an island. `T` is the type of the values enqueued and
 * applied, `S` the type of the application's snapshot (both JSON); the
 * compiler infers them from `application` or takes them as written.
 */
export class Colleague<T extends JsonValue = JsonValue, S extends JsonValue = JsonValue> extends EventEmitter<ColleagueEvents> {
  readonly islandName: string
  readonly colleagueId: string
  /** The colleague's routes as a `(request, response)` listener, to mount in any node:http server. */
  readonly handler: RequestListener

  private readonly application: Application
  private readonly options: ColleagueOptions
  private readonly clock: Clock
  private readonly logger: PinoLikeLogger
  private readonly legislator: Legislator
  private readonly kibitzer: Kibitzer<Legislator>
  private readonly applier: Applier
  private readonly transport: PeerTransport
  private readonly waiters: Waiters
  private readonly immigration: Immigration
  private readonly observer: Observer
  private readonly metrics: ColleagueMetrics
  private readonly submissions = new Map<number, Deferred<Enqueued>>()
  private readonly startedAt: string
  private readonly randomId: () => string
  private readonly mutant: ColleagueMutant | null
  /** Only for the `leader-applies-original` mutant: values as passed to enqueue, by seq. */
  private readonly originals = new Map<number, unknown>()
  /**
   * The values of log entries a peer sent, parsed when its body was checked
   * (see `assertMessages`): applied from here rather than parsed again.
   * Keyed by the submission object the log holds, so each goes with it.
   */
  private readonly parsedValues = new WeakMap<Submission, unknown>()
  private readonly requestCounts: Record<string, number> = { refused: 0 }
  private readonly heard: HeardFrom
  private readonly status: StatusRoutes
  private readonly timeoutMs: number
  private readonly joinTimeoutMs: number
  private readonly outOfBandTimeoutMs: number
  private readonly valueBytesMax: number
  /** Durable mode: the storage directory, null when in memory only. */
  private readonly durability: Durability | null
  /** Replaying the stored log after a restart: no periodic snapshot until it is done. */
  private resuming = false
  /**
   * Whether a POST /kibitz is answered with this colleague's replies to its
   * sender. Not on a signed island: answers are not signed, so replies there
   * travel as signed requests of their own.
   */
  private readonly answering: boolean
  /** Whether the island has a `secret`: the bodies that change a colleague must then name it in `to`. */
  private readonly signed: boolean

  private state: ColleagueState = 'idle'
  private founder = false
  private location: string | null
  private islandId: string | null = null
  private server: Server | null = null
  /** The latest government entry applied here (the legislator may be ahead). */
  private appliedGovernment: Government | null = null
  private immigrated = false
  /**
   * Durable mode: a newcomer that holds its arrival state tells the leader
   * only once its first snapshot is on disk. Told before, it could be seated
   * in a parliament and then lose everything to a power cut: a voter gone
   * for good, whose parliament may never reach a quorum again.
   */
  private naturalizeWhenDurable = false
  private failure: ColleagueError | null = null
  private closing: Promise<void> | null = null
  /** `leave()` was called: a government without this colleague ends it with a shutdown, not a crash. */
  private leaving = false
  private leaveFinishing = false
  /** While leaving, the island lost a member (exiled for its silence): alone, this colleague waits for one to hand on to. */
  private lostWhileLeaving = false
  /** Durable mode: exiled, and still answering as an acceptor until told (see `exiled`). */
  private lingering = false

  constructor(options: ColleagueOptions<T, S>) {
    super()
    validateOptions(options)
    this.options = options
    this.application = options.application
    this.islandName = options.islandName
    this.randomId = options.randomId ?? randomUUID
    this.mutant = (options as MutantOption)[MUTANT_OPTION] ?? null
    const watch = (options as WatchOption)[WATCH_OPTION]
    this.durability =
      options.storage === undefined
        ? null
        : new Durability(options.storage, {
            islandName: options.islandName,
            ...(options.colleagueId !== undefined && { colleagueId: options.colleagueId }),
          })
    // A constructor that throws past here lets go of the storage directory it opened.
    try {
      const restore = this.durability?.takeLegislatorRestore() ?? null
      this.colleagueId = this.durability?.colleagueId ?? options.colleagueId ?? mintedId(this.randomId)
      this.durability?.assign(this.colleagueId)
      this.location = options.location ?? null
      this.clock = options.clock ?? systemClock
      this.startedAt = new Date(this.clock.now()).toISOString()
      this.logger = bindLogger(sheltered(options.logger ?? silentLogger), { colleagueId: this.colleagueId })
      this.timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs
      this.joinTimeoutMs = options.joinTimeoutMs ?? DEFAULTS.joinTimeoutMs
      this.outOfBandTimeoutMs = options.outOfBandTimeoutMs ?? DEFAULTS.outOfBandTimeoutMs
      const bodyBytesMax = options.bodyBytesMax ?? DEFAULTS.bodyBytesMax
      this.valueBytesMax = options.valueBytesMax ?? defaultValueBytesMax(bodyBytesMax)
      const refusals = new RefusalLog(this.logger, this.clock)
      const schedule = tickSchedule(options.pingMs ?? DEFAULTS.pingMs, this.timeoutMs)
      this.legislator = new Legislator({
        id: this.colleagueId,
        random: options.random ?? seededRandom(randomSeed()),
        pingTicks: schedule.pingTicks,
        timeoutTicks: schedule.timeoutTicks,
        electionJitterTicks: electionJitterTicks(schedule),
        ...(options.storage !== undefined && durableExile(schedule, options.storage.exileMs ?? DURABLE_EXILE_MS)),
        ...(options.parliamentSize !== undefined && { parliamentSize: options.parliamentSize }),
        ...(restore !== null && { restore }),
        // A round's entries and a catch-up's together in one accept stay within half a body.
        entryBytes: entryWireBytes,
        messageBytesMax: Math.floor(bodyBytesMax / MESSAGE_PER_BODY),
      })
      const signer =
        options.secret === undefined
          ? null
          : new Signer(options.secret, {
              // Members compare timestamps within a window: the wall clock, which NTP keeps in step
              // across machines, unless a clock is injected (a simulated island signs in its time).
              now: options.clock === undefined ? () => Date.now() : () => this.clock.now(),
              ...(options.signatureWindowMs !== undefined && { windowMs: options.signatureWindowMs }),
            })
      this.transport = options.transport ?? new PeerClient({ signer, connectTimeoutMs: this.timeoutMs, answerBytesMax: bodyBytesMax })
      this.waiters = new Waiters(this.clock)
      this.heard = new HeardFrom(() => this.clock.now())
      this.applier = new Applier({
        handle: (committed) => this.apply(committed),
        now: () => this.clock.now(),
        onApplied: () => this.waiters.check(),
        onFault: (error, committed) => this.onApplyFault(error, committed),
      })
      // A member resuming from its directory applies nothing before its application's restore() has returned
      // (see `resume`): peers may send it what they committed as soon as it listens.
      if (restore !== null) this.applier.hold()
      this.kibitzer = new Kibitzer({
        legislator: this.legislator,
        clock: this.clock,
        tickMs: schedule.tickMs,
        transport: mutate(this.mutant, new HttpTransport({
          client: this.transport,
          islandName: this.islandName,
          from: this.colleagueId,
          islandId: () => this.currentIslandId(),
          locate: (id) => locationOf(this.legislator.properties(id)),
          bodyBytesMax,
          timeoutMs: this.timeoutMs,
          onOversized: (to, bytes) => this.logger.error({ to, bytes }, 'message larger than bodyBytesMax dropped'),
          onInvalidAnswer: (to, reason) => this.logger.warn({ to, reason }, 'kibitz answer refused'),
          onAnswer: (body) => this.takeKibitz(body),
        })),
        answerable: isAnswerable,
        // A lost request or answer holds a peer's next batch back for a ping, not a whole timeout.
        sendStallMs: options.pingMs ?? DEFAULTS.pingMs,
        coalesceAfterCommit: true,
        paced: (peer) => this.pacedPeer(peer),
        paceMs: options.minorityPaceMs ?? Math.min(DEFAULTS.minorityPaceMs, options.pingMs ?? DEFAULTS.pingMs),
        onCommitted: watch === undefined ? (committed) => this.applier.push(committed) : (committed) => {
          watch.committed(committed)
          this.applier.push(committed)
        },
        onSendFailure: (to, error) => {
          this.metrics.peerError(error)
          refusals.onSendFailure(to, error)
        },
        onFault: (error) =>
          this.crash(isColleagueError(error) ? error : new ColleagueError('INTERNAL', 'the legislator failed', { cause: error })),
        ...(this.durability !== null && {
          persist: (ready: Ready) => (this.durability as Durability).persist(ready, this.legislator),
        }),
        afterFlush: () => this.checkExiled(),
        ...(this.clock.defer !== undefined && { defer: this.clock.defer.bind(this.clock) }),
      })
      this.immigration = this.createImmigration()
      this.status = new StatusRoutes({
        colleagueId: this.colleagueId,
        health: () => this.health(),
        clock: this.clock,
        pingMs: options.pingMs ?? DEFAULTS.pingMs,
        timeoutMs: this.timeoutMs,
      })
      this.on('government', (government) => this.status.observe(government))
      this.metrics = new ColleagueMetrics({ islandName: this.islandName, colleagueId: this.colleagueId, health: () => this.health() })
      this.observer = new Observer({
        islandName: this.islandName,
        colleagueId: this.colleagueId,
        logger: this.logger,
        clock: this.clock,
        timeoutMs: this.timeoutMs,
        isLeader: () => this.legislator.isLeader,
        applying: () => this.applier.waiting,
        emit: (event, ...args) => (this.emit as (event: string, ...args: unknown[]) => boolean)(event, ...args),
        onElection: () => this.metrics.election(),
        onExile: () => this.metrics.exile(),
      })
      this.answering = signer === null
      this.signed = options.secret !== undefined
      this.handler = createHandler({
        metrics: async () => ({ contentType: this.metrics.contentType, text: this.metrics.text() }),
        dispatch: (type, body) => this.request(type, body),
        signer,
        bodyBytesMax,
        bodies: new BodyBudget(options.bodiesBytesMax ?? BODIES_PER_BUDGET * bodyBytesMax),
        logger: this.logger,
        onRefused: () => this.countRequest('refused'),
        extraRoutes: (pathname, request, response) => this.status.handle(pathname, request, response),
      })
    } catch (error) {
      this.durability?.close()
      throw error
    }
  }

  /** The join protocol and out-of-band, over this colleague's transport, clock and state. */
  private createImmigration(): Immigration {
    return new Immigration({
      islandName: this.islandName,
      colleagueId: this.colleagueId,
      application: this.application,
      legislator: this.legislator,
      transport: this.transport,
      clock: this.clock,
      waiters: this.waiters,
      logger: this.logger,
      timeoutMs: this.timeoutMs,
      joinTimeoutMs: this.joinTimeoutMs,
      outOfBandTimeoutMs: this.outOfBandTimeoutMs,
      mutant: this.mutant,
      appliedGovernment: () => this.appliedGovernment,
      act: (action) => this.act(action),
      crash: (error) => this.crash(error),
      abandonJoin: (error) => this.abandonJoin(error),
      naturalize: (arrival) => this.naturalize(arrival),
      naturalized: () => this.naturalized(),
    })
  }

  /**
   * A listener that throws is logged at error and otherwise ignored: the
   * colleague emits from inside its own machinery (applying an entry, a
   * timer, a shutdown), which an application's bug must not break.
   */
  override emit<K>(event: keyof ColleagueEvents | K, ...args: K extends keyof ColleagueEvents ? ColleagueEvents[K] : never): boolean {
    if (event === 'error') return super.emit(event, ...args)
    // Each listener on its own: one that throws neither stops the others (the colleague's own among them) nor the caller.
    const listeners = this.rawListeners(event as keyof ColleagueEvents) as ((...args: unknown[]) => unknown)[]
    const report = (error: unknown): void => this.logger.error({ err: error, event: String(event) }, 'an event listener threw')
    for (const listener of listeners) {
      try {
        const result = Reflect.apply(listener, this, args)
        // An async listener's rejection, which nothing else would handle.
        if (isThenable(result)) result.then(undefined, report)
      } catch (error) {
        report(error)
      }
    }
    return listeners.length > 0
  }

  // ------------------------------------------------------------------ lifecycle

  /** Starts an HTTP server with the colleague's routes on `host`:`port`. */
  async listen(): Promise<{ url: string }> {
    this.assertAlive()
    if (this.server !== null) throw new ColleagueError('ALREADY_JOINED', 'already listening')
    const server = limitServer(createServer(SERVER_OPTIONS, served(this.handler)))
    this.server = server
    const host = this.options.host ?? DEFAULTS.host
    const port = this.options.port ?? DEFAULTS.port
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => {
          server.off('error', reject)
          resolve()
        })
      })
    } catch (error) {
      if (this.server === server) this.server = null
      throw new ColleagueError('LISTEN_FAILED', `could not listen on ${host}:${port}: ${(error as Error).message}`, { cause: error })
    }
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${(server.address() as AddressInfo).port}`
    this.location ??= url
    this.logger.info({ url, location: this.location }, 'listening')
    return { url }
  }

  /** Founds a new island with this colleague as its whole government and leader. */
  async bootstrap(): Promise<void> {
    this.assertIdle()
    if (this.recovered) return this.resume('bootstrap')
    const location = this.requireLocation()
    this.islandId = mintedId(this.randomId)
    this.founder = true
    this.state = 'member'
    this.act((legislator) => legislator.bootstrap(this.islandId as string, { location }))
    this.kibitzer.start()
    await this.waiters.until(
      () => this.appliedGovernment !== null,
      this.joinTimeoutMs,
      () => this.crash(new ColleagueError('JOIN_TIMEOUT', 'bootstrap government not applied in time')),
    )
    this.logger.info({ islandId: this.islandId }, 'bootstrapped')
    this.emit('naturalized')
  }

  /**
   * Asks the member at `url` to admit this colleague, then waits until the
   * leader's messages arrive, the state is fetched out of band, and this
   * colleague is naturalized. Given several members' URLs, any one that
   * answers will do: the first is asked first, the next at once if it cannot
   * be reached, and the repeats go to each in turn.
   */
  async join(url: string | readonly string[]): Promise<void> {
    const urls = joinUrls(url)
    this.assertIdle()
    if (this.recovered) return this.resume('join')
    const location = this.requireLocation()
    this.state = 'joining'
    this.kibitzer.start()
    const deadline = this.clock.now() + this.joinTimeoutMs
    await this.immigration.join(urls, location, deadline, (islandId) => {
      this.islandId ??= islandId
    })
    await this.waiters.until(
      () => this.immigrated,
      Math.max(0, deadline - this.clock.now()),
      () => this.crash(new ColleagueError('JOIN_TIMEOUT', `not naturalized within ${this.joinTimeoutMs} ms`)),
    )
  }

  /**
   * Durable mode: true when the storage directory held this member at
   * construction. `bootstrap()` and `join()` then resume it instead: the
   * application's `restore` gets the last snapshot, the log after it is
   * applied again, and the member takes part under its old id.
   */
  get recovered(): boolean {
    return this.durability?.recovered != null
  }

  private async resume(asked: 'bootstrap' | 'join'): Promise<void> {
    const durability = this.durability as Durability
    // Not the snapshot itself: its state is let go once restored, before the log is replayed.
    const { commit, position, government, identity } = durability.resumePoint()
    // Peers send to the location the governments name; a member that listens elsewhere would
    // never hear from them, and stall (as a member) until exiled. Refused while still idle.
    const recorded = locationOf(this.legislator.properties(this.colleagueId))
    if (recorded !== null && this.location !== null && recorded !== this.location) {
      throw new ColleagueError(
        'LOCATION_CHANGED',
        `the island knows ${this.colleagueId} at ${recorded}, but it would now advertise ${this.location}: peers would not reach it. ` +
          'Resume it where it was (the same port, or location set to the old URL), or start a new member without this directory',
      )
    }
    this.logger.info(
      { directory: durability.store.directory, snapshot: position, commit, tornBytes: durability.report.tornBytes, ignored: asked },
      `the storage directory holds this member: resuming it (${asked} ignored)`,
    )
    this.state = 'member'
    this.immigrated = true
    this.islandId = identity.islandId
    this.appliedGovernment = government
    try {
      await this.application.restore?.(durability.takeSnapshotState() as S)
    } catch (error) {
      throw this.crash(new ColleagueError('APPLICATION_FAILED', 'restore of the stored snapshot failed', { cause: error }))
    }
    this.applier.release()
    this.emit('government', government)
    this.application.government?.(government)
    this.kibitzer.start()
    // A flush now hands the log after the snapshot to the applier.
    this.resuming = true
    this.act(() => undefined)
    try {
      await this.waiters.until(
        () => commit <= position || this.applier.applied >= commit,
        RESUME_MS_MAX,
        () => this.crash(new ColleagueError('INTERNAL', `the stored log up to ${commit} was not applied in time`)),
      )
    } finally {
      this.resuming = false
    }
    this.logger.info({ applied: this.applier.applied }, 'resumed from storage')
    this.emit('naturalized')
  }

  /** Stops timers, rejects pending calls, closes HTTP. Idempotent; also fine after a crash. */
  shutdown(): Promise<void> {
    if (this.closing !== null) return this.closing
    this.state = 'shut-down'
    this.logger.info({}, 'shutting down')
    this.closing = this.teardown(new ColleagueError('SHUT_DOWN', 'the colleague was shut down')).then(() => {
      this.emit('shutdown')
    })
    return this.closing
  }

  // ------------------------------------------------------------------ the log

  /**
   * Enqueues `value` and resolves once it is committed and applied here. The
   * value is turned into JSON text here, once; every member applies the value
   * parsed from that text.
   */
  enqueue(value: T, options?: WaitOptions): Promise<Enqueued> {
    try {
      this.assertAlive()
      const signal = signalOf(options)
      const text = encodeValue(value, this.valueBytesMax)
      assertNotAborted(signal)
      return this.submit(text, signal, value)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * Resolves once every value committed anywhere before the call is applied
   * on this colleague: a linearizable read point. A barrier goes through the
   * leader's log like a value (so it needs a quorum, as a write does), and
   * the application never sees it. Resolves `{ position, promise }` of the
   * barrier itself.
   */
  barrier(options?: WaitOptions): Promise<Enqueued> {
    try {
      this.assertAlive()
      const signal = signalOf(options)
      assertNotAborted(signal)
      return this.submit(BARRIER_TEXT, signal)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * Resolves once a government applied here names this colleague in the
   * parliament: it votes. At once if it already does; rejects when the
   * colleague shuts down or crashes first. A member may stay a constituent
   * for good when the parliament is full (`parliamentSize`): bound the wait
   * with a `signal`, whose abort rejects with its reason.
   */
  promoted(options?: WaitOptions): Promise<void> {
    let signal: AbortSignal | undefined
    try {
      this.assertAlive()
      signal = signalOf(options)
      assertNotAborted(signal)
    } catch (error) {
      return Promise.reject(error)
    }
    const votes = (): boolean => this.appliedGovernment !== null && isParliament(this.appliedGovernment, this.colleagueId)
    if (votes()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        stop()
        reject(signal?.reason)
      }
      const onGovernment = (): void => {
        if (!votes()) return
        stop()
        resolve()
      }
      const onCrash = (error: ColleagueError): void => {
        stop()
        reject(error)
      }
      const onShutdown = (): void => {
        stop()
        reject(new ColleagueError('SHUT_DOWN', 'the colleague was shut down'))
      }
      const stop = (): void => {
        this.off('government', onGovernment)
        this.off('crash', onCrash)
        this.off('shutdown', onShutdown)
        signal?.removeEventListener('abort', onAbort)
      }
      this.on('government', onGovernment)
      this.on('crash', onCrash)
      this.on('shutdown', onShutdown)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /**
   * Leaves the island for good. This colleague asks to be exiled: a leader
   * commits a government without itself that names its successor first, and
   * the successor takes over at once (no election timeout is waited); any
   * other member asks the leader, which exiles it in its next government.
   * Resolves once a government without this colleague is chosen and this
   * colleague has shut down (its last messages sent). The last member of an
   * island just shuts down, and so does a leaving colleague that the others'
   * own leaving leaves alone (not one a member exiled for its silence left
   * alone: that one waits for a member to hand on to). Rejects with `NOT_JOINED` before bootstrap or
   * join completed, `SHUT_DOWN` or `CRASHED` after either, and with the crash
   * if the colleague crashes first. Values still pending here are rejected
   * with `SHUT_DOWN`. It waits as long as the island takes: bound it with a
   * `signal`, and `shutdown()` if you give up (the others then exile it
   * after their exile timeout, as for a member that died). An abort ends the
   * wait only: the colleague goes on leaving. A signal aborted before the
   * call leaves nothing.
   */
  leave(options?: WaitOptions): Promise<void> {
    let signal: AbortSignal | undefined
    try {
      this.assertAlive()
      signal = signalOf(options)
      assertNotAborted(signal)
      if (this.state !== 'member') throw new ColleagueError('NOT_JOINED', 'leave before bootstrap or join completed')
      const government = this.legislator.government
      if (government !== null && membersOf(government).length === 1) return this.shutdown()
      const refusal = this.act((legislator) => legislator.leave())
      if (refusal !== null) throw refusalError(refusal)
    } catch (error) {
      return Promise.reject(error)
    }
    this.leaving = true
    this.logger.info({}, 'leaving the island')
    return new Promise((resolve, reject) => {
      const onShutdown = (): void => {
        this.off('crash', onCrash)
        signal?.removeEventListener('abort', onAbort)
        // Shut down before a government without it was chosen (by shutdown(), POST /shutdown, a signal
        // handler): it never left, and the others will exile it after their exile timeout. One chosen
        // already (durable mode: lingering as an acceptor until told) is a leave that happened.
        if (this.leaveFinishing || this.lingering) resolve()
        else reject(new ColleagueError('SHUT_DOWN', 'the colleague was shut down before it left the island'))
      }
      const onCrash = (error: ColleagueError): void => {
        this.off('shutdown', onShutdown)
        signal?.removeEventListener('abort', onAbort)
        reject(error)
      }
      const onAbort = (): void => {
        this.off('shutdown', onShutdown)
        this.off('crash', onCrash)
        reject(signal?.reason)
      }
      this.once('shutdown', onShutdown)
      this.once('crash', onCrash)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** A government without this leaving colleague is chosen: send what is queued (bounded), then shut down. */
  private finishLeave(): void {
    if (this.leaveFinishing) return
    this.leaveFinishing = true
    this.logger.info({}, 'left the island')
    // Gone for good, as an exile is: the next start on this directory is a newcomer, not this member.
    this.retireStorage()
    void this.drainedWithin(this.timeoutMs).then(() => this.shutdown())
  }

  /**
   * A member this colleague, as leader, exiled while it was leaving, for its
   * silence or for lagging behind the trim (not on its own leave), was lost:
   * alone, this colleague then waits for a member to hand on to, as
   * `leave()` says, rather than end the island.
   */
  private noteRemovedWhileLeaving(previous: Government | null, government: Government): void {
    if (previous === null) return
    for (const id of membersOf(previous)) {
      if (id !== this.colleagueId && !isMember(government, id) && this.legislator.exiledAsLost(id)) this.lostWhileLeaving = true
    }
  }

  /**
   * The others left while this colleague was leaving, and none was lost
   * (`noteRemovedWhileLeaving`): alone in its island it just shuts down, as
   * `leave()` does for the last member (its last messages, telling the others
   * they are out, sent first). Durable mode keeps its directory: the island
   * lives on there.
   */
  private leaveAsLast(): void {
    if (this.leaveFinishing) return
    this.leaveFinishing = true
    this.logger.info({ last: true }, 'left the island')
    void this.drainedWithin(this.timeoutMs).then(() => this.shutdown())
  }

  /** Resolves once the kibitzer has sent all it holds and every send settled, or after `ms`. */
  private drainedWithin(ms: number): Promise<void> {
    let timer: ReturnType<Clock['setTimeout']> | null = null
    const bound = new Promise<void>((resolve) => {
      timer = this.clock.setTimeout(resolve, ms)
    })
    return Promise.race([this.kibitzer.drained(), bound]).then(() => {
      if (timer !== null) this.clock.clearTimeout(timer)
    })
  }

  /** Hands one value's JSON text (or a barrier) to the legislator; resolves once applied here. */
  private submit(text: string, signal: AbortSignal | undefined, value?: unknown): Promise<Enqueued> {
    if (this.state !== 'member') throw new ColleagueError('NOT_JOINED', 'enqueue before bootstrap or join completed')
    const result = this.act((legislator) => legislator.enqueue(text))
    if (!result.ok) throw refusalError(result.code)
    const seq = result.seq
    if (this.mutant === 'leader-applies-original') this.originals.set(seq, value)
    const startedMs = performance.now()
    if (signal === undefined || this.mutant === 'abort-ignored') return new Promise((resolve, reject) => this.submissions.set(seq, { resolve, reject, startedMs }))
    return new Promise((resolve, reject) => {
      // The wait ends, not the submission: the legislator still carries it, and it may yet be applied.
      const onAbort = (): void => {
        if (this.submissions.get(seq) !== deferred) return
        this.submissions.delete(seq)
        reject(this.mutant === 'abort-own-reason' ? new Error('the wait was aborted') : signal.reason)
      }
      const deferred: Deferred<Enqueued> = {
        resolve: (enqueued) => {
          signal.removeEventListener('abort', onAbort)
          resolve(enqueued)
        },
        reject: (error) => {
          signal.removeEventListener('abort', onAbort)
          reject(error)
        },
        startedMs,
      }
      this.submissions.set(seq, deferred)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  /**
   * One out-of-band request to the leader of the government applied here
   * (for a newcomer: its arrival government). Any failure crashes the
   * colleague: see the README, Lifecycle.
   */
  async outOfBand(name: string, post: unknown): Promise<unknown> {
    this.assertAlive()
    return this.immigration.outOfBand(name, post)
  }

  naturalized(): boolean {
    return this.founder ? this.state === 'member' : this.immigrated
  }

  health(): Health {
    const government = this.appliedGovernment
    return {
      startedAt: this.startedAt,
      islandName: this.islandName,
      colleagueId: this.colleagueId,
      islandId: this.currentIslandId(),
      state: this.state,
      location: this.location,
      government,
      leader: government?.majority[0] ?? null,
      isLeader: this.state === 'member' && this.legislator.isLeader,
      naturalized: this.naturalized(),
      exiled: this.legislator.role === 'exiled',
      positions: { commit: this.legislator.commit, applied: this.applier.applied, backlog: this.applier.backlog },
      applying: this.applyingNow(),
      pending: this.submissions.size,
      heardMs: this.heard.ages(government === null ? [] : membersOf(government)),
      requests: { ...this.requestCounts },
      transport: this.kibitzer.statistics,
      crash: this.failure === null ? null : { code: this.failure.code, message: this.failure.message },
    }
  }

  /** `health().applying`: the entry whose handling is awaited, for how long. */
  private applyingNow(): Health['applying'] {
    const waiting = this.applier.waiting
    return waiting === null ? null : { position: waiting.position, forMs: Math.max(0, this.clock.now() - waiting.since) }
  }

  // ------------------------------------------------------------------ requests

  /**
   * The transport-agnostic entry point every HTTP route maps onto. Unknown
   * types and bad bodies reject with a ColleagueError and change nothing.
   */
  async request(type: string, body?: unknown): Promise<unknown> {
    try {
      if (!(REQUEST_TYPES as readonly string[]).includes(type)) {
        throw new ColleagueError('UNKNOWN_REQUEST', `unknown request type ${JSON.stringify(type)}`)
      }
      this.countRequest(type)
      return await this.dispatch(type as RequestType, body)
    } catch (error) {
      this.countRequest('refused')
      throw error
    }
  }

  private countRequest(key: string): void {
    this.requestCounts[key] = (this.requestCounts[key] ?? 0) + 1
  }

  private async dispatch(type: RequestType, body: unknown): Promise<unknown> {
    switch (type) {
      case 'health':
        return this.health()
      case 'kibitz':
        return this.receiveKibitz(body)
      case 'join':
        return this.receiveJoin(body)
      case 'bootstrap':
        return this.receiveBootstrap(body)
      case 'shutdown':
        return this.receiveShutdown(body)
      case 'oob':
        return this.receiveOutOfBand(body)
    }
  }

  /** Takes a peer's batch; answers with this colleague's replies to it, when there are any and answering is on. */
  private receiveKibitz(body: unknown): KibitzAnswer | undefined {
    const kibitz: KibitzBody = validate(validators.kibitz, body)
    this.assertAlive()
    this.assertIsland(kibitz.islandName, kibitz.islandId, this.state === 'joining')
    this.assertAddressed('kibitz', kibitz.to)
    this.takeKibitz(kibitz)
    const islandId = this.currentIslandId()
    if (!this.answering || islandId === null) {
      this.kibitzer.receive(kibitz.from, kibitz.messages)
      return undefined
    }
    const messages = this.kibitzer.exchange(kibitz.from, kibitz.messages)
    if (messages.length === 0) return undefined
    return { islandName: this.islandName, islandId, from: this.colleagueId, to: kibitz.from, messages }
  }

  /** The checks and bookkeeping every kibitz body from a peer gets beyond its schema, POSTed or an answer; throws on a bad one. */
  private takeKibitz(kibitz: KibitzBody): void {
    assertMessages(kibitz, this.parsedValues)
    // Only members are worth remembering: anyone may post under any id, and a
    // stranger's ids would crowd out the members' (and grow without bound).
    const government = this.legislator.government ?? this.appliedGovernment
    if (government === null || !isMember(government, kibitz.from)) return
    this.heard.record(kibitz.from)
    this.observer.heard(kibitz.from)
  }

  private receiveJoin(body: unknown): { islandName: string; islandId: string } {
    const join = validate(validators.join, body)
    this.assertAlive()
    this.assertIsland(join.islandName, null, false)
    const islandId = this.currentIslandId() as string
    this.immigration.receiveJoin(join.id, join.properties)
    return { islandName: this.islandName, islandId }
  }

  /**
   * A body names its receiver in `to`, signed with it: one captured on its way to a member and
   * replayed to another is refused, and changes nothing there. On a signed island every body that
   * changes a colleague must name it (/join need not: admission is the island's, asked of any member).
   */
  private assertAddressed(type: RequestType, to: string | undefined): void {
    if (to === undefined) {
      if (!this.signed) return
      throw new ColleagueError('INVALID_BODY', `/${type}: a signed island's body names its recipient in "to" (the colleagueId of the member meant)`)
    }
    if (to !== this.colleagueId) throw new ColleagueError('MISADDRESSED', `a body for ${JSON.stringify(to)} reached ${JSON.stringify(this.colleagueId)}`)
  }

  private async receiveBootstrap(body: unknown): Promise<{ islandName: string; islandId: string }> {
    const bootstrap = validate(validators.bootstrap, body)
    if (bootstrap.islandName !== this.islandName) throw wrongIsland(bootstrap.islandName)
    this.assertAddressed('bootstrap', bootstrap.to)
    await this.bootstrap()
    return { islandName: this.islandName, islandId: this.islandId as string }
  }

  private receiveShutdown(body: unknown): { shuttingDown: true } {
    const shutdown = validate(validators.shutdown, body)
    if (shutdown.islandName !== this.islandName) throw wrongIsland(shutdown.islandName)
    const islandId = this.currentIslandId()
    if (shutdown.islandId !== undefined && islandId !== null && shutdown.islandId !== islandId) {
      throw wrongIsland(shutdown.islandId)
    }
    this.assertAddressed('shutdown', shutdown.to)
    // Not awaited: an HTTP caller gets its answer while the server closes behind it.
    void this.shutdown()
    return { shuttingDown: true }
  }

  /** Serves a newcomer's out-of-band request, once this colleague has applied its arrival. */
  private async receiveOutOfBand(body: unknown): Promise<{ result: unknown }> {
    const oob = validate(validators.oob, body)
    this.assertAlive()
    this.assertIsland(oob.islandName, oob.islandId, false)
    this.assertAddressed('oob', oob.to)
    return this.immigration.receiveOutOfBand(oob)
  }

  // ------------------------------------------------------------------ applying

  private apply(committed: Committed): void | Promise<void> {
    if (this.durability === null) return this.applyEntry(committed)
    const applied = this.applyEntry(committed)
    if (isThenable(applied)) return applied.then(() => this.afterApplied(committed))
    return this.afterApplied(committed)
  }

  /** Durable mode: a member's first snapshot once it holds the state, then one every `snapshotEveryEntries`. */
  private afterApplied(committed: Committed): void | Promise<void> {
    const durability = this.durability as Durability
    const due = durability.applied(committed)
    if (!this.naturalized() || this.state !== 'member' || this.resuming) return undefined
    if (due || durability.store.snapshotPosition < 0) {
      const written = durability.snapshot(this.application, this.legislator.arrival)
      return this.naturalizeWhenDurable ? written.then(() => this.naturalizeOnceDurable()) : written
    }
    return undefined
  }

  /** Durable mode: the newcomer's naturalization leaves once a snapshot of its state is on disk. */
  private naturalizeOnceDurable(): void {
    if (!this.naturalizeWhenDurable || (this.durability as Durability).store.snapshotPosition < 0 || this.state !== 'member') return
    this.naturalizeWhenDurable = false
    this.act((legislator) => legislator.naturalize())
  }

  private applyEntry(committed: Committed): void | Promise<void> {
    const entry = committed.entry
    switch (entry.type) {
      case 'government':
        return this.applyGovernment(entry.government)
      case 'value':
        return committed.apply ? this.applyValue(committed, entry.submission) : undefined
      case 'noop':
        return undefined
    }
  }

  private applyValue(committed: Committed, submission: Submission): void | Promise<void> {
    if (isBarrier(submission.value)) return this.settleSubmission(committed, submission)
    const applied = this.application.entry({
      position: committed.position,
      promise: committed.promise,
      // Parsed from the JSON text the log holds: JSON by construction.
      value: (this.mutantOriginal(submission) ?? this.decoded(submission)) as JsonValue,
      from: submission.from,
    })
    if (isThenable(applied)) return applied.then(() => this.settleSubmission(committed, submission))
    this.settleSubmission(committed, submission)
  }

  /** The value of a log entry, parsed from its text: when its body was checked for an entry a peer sent, else now. */
  private decoded(submission: Submission): unknown {
    const parsed = this.parsedValues.get(submission)
    if (parsed === undefined) return decodeValue(submission.value)
    this.parsedValues.delete(submission)
    return parsed
  }

  /** The `leader-applies-original` mutant: a leader applies its own values as passed, not as logged. */
  private mutantOriginal(submission: Submission): unknown {
    if (this.mutant !== 'leader-applies-original' || submission.from !== this.colleagueId) return undefined
    const original = this.originals.get(submission.seq)
    this.originals.delete(submission.seq)
    return this.legislator.isLeader ? original : undefined
  }

  private settleSubmission(committed: Committed, submission: Submission): void {
    if (submission.from !== this.colleagueId) return
    const deferred = this.submissions.get(submission.seq)
    if (deferred === undefined) return
    this.submissions.delete(submission.seq)
    // The histogram is of enqueues: a barrier (a consistent read) is not one.
    if (!isBarrier(submission.value)) this.metrics.enqueueApplied(deferred.startedMs)
    deferred.resolve({ position: committed.position, promise: committed.promise })
  }

  private async applyGovernment(government: Government): Promise<void> {
    const arrival = this.appliedGovernment === null && !this.founder
    if (arrival && government.arrived[this.colleagueId] !== government.promise) {
      throw new ColleagueError('INTERNAL', `first government ${government.promise} is not this newcomer's arrival`)
    }
    if (!isMember(government, this.colleagueId)) {
      throw new ColleagueError('EXILED', `government ${government.promise} no longer names this colleague`)
    }
    if (this.leaving) this.noteRemovedWhileLeaving(this.appliedGovernment, government)
    // Handed to listeners, the application and health() as it is: frozen, so
    // that none of them can change what the island holds.
    this.appliedGovernment = deepFreeze(government)
    this.islandId ??= government.islandId
    this.emit('government', government)
    this.observer.government(government)
    this.observer.start()
    this.application.government?.(government)
    if (this.leaving && !this.lostWhileLeaving && membersOf(government).length === 1) this.leaveAsLast()
    if (arrival) await this.immigration.immigrate(government)
    else await this.immigration.applied(government)
  }

  /** The newcomer has its arrival state: it is naturalized, and the leader will record that. */
  private naturalize(arrival: string): void {
    if (this.state !== 'joining') return
    if (this.durability === null) this.act((legislator) => legislator.naturalize())
    else this.naturalizeWhenDurable = true
    this.immigrated = true
    this.state = 'member'
    this.logger.info({ arrival, government: this.appliedGovernment?.number ?? null }, 'naturalized')
    this.emit('naturalized')
  }

  private onApplyFault(error: unknown, committed: Committed): void {
    if (this.state === 'crashed' || this.state === 'shut-down') return
    if (isColleagueError(error) && error.code === 'EXILED') return this.exiled(error)
    // The snapshots durable mode writes after an entry fail as STORAGE_FAILED: the disk's failure, not the application's.
    const failure =
      isColleagueError(error) &&
      (error.code === 'EXILED' || error.code === 'INTERNAL' || error.code === 'OUT_OF_BAND_FAILED' || error.code === 'STORAGE_FAILED')
        ? error
        : new ColleagueError(
            'APPLICATION_FAILED',
            // One the colleague named where it failed (a snapshot() taken for newcomers, or for the disk) says what.
            `applying position ${committed.position} failed${isColleagueError(error) && error.code === 'APPLICATION_FAILED' ? `: ${error.message}` : ''}`,
            { cause: error },
          )
    this.crash(failure)
  }

  /**
   * The minority and constituents of the government this colleague leads (it
   * is `majority[0]`): no round waits for them while its majority answers.
   * A leader just elected paces no one until its own government is chosen;
   * a peer that is no member (one that left, an exile) is not paced, so that
   * it learns at once that it is out.
   */
  private pacedPeer(peer: string): boolean {
    const government = this.legislator.government
    return (
      government !== null &&
      government.majority[0] === this.colleagueId &&
      this.legislator.isLeader &&
      !government.majority.includes(peer) &&
      isMember(government, peer)
    )
  }

  // ------------------------------------------------------------------ endings

  /** A member that learns it was exiled stops for good (see `exiled`). */
  private checkExiled(): void {
    if (this.legislator.role !== 'exiled' || this.state === 'crashed' || this.state === 'shut-down') return
    this.exiled(new ColleagueError('EXILED', 'this colleague was exiled from the island'))
  }

  /**
   * This colleague's legislator is exiled: it stops for good (a leaving one
   * shuts down). In durable mode it first lingers as an acceptor until a
   * member that applied the government exiling it says so, which that member
   * does only once its record of that government is durable. Until then the
   * exile's log may be the only record of the change left: the members of
   * the new parliament may all have lost their commit point in a power cut,
   * and without the exile's vote no quorum of the government before is left
   * to choose the change again.
   */
  private exiled(error: ColleagueError): void {
    if (this.durability !== null && !this.legislator.exileTold) {
      if (this.lingering) return
      this.lingering = true
      this.logger.warn({}, 'exiled: answering as an acceptor until a member of the new government confirms it')
      if (!this.leaving) {
        for (const deferred of this.submissions.values()) deferred.reject(error)
        this.submissions.clear()
      }
      return
    }
    if (this.leaving) return this.finishLeave()
    this.crash(error)
  }

  /** Durable mode: the directory no longer holds this member (it was exiled, or left). */
  private retireStorage(): void {
    if (this.durability === null) return
    try {
      this.durability.store.retire()
    } catch (cause) {
      this.logger.error({ err: cause }, 'could not retire the storage of a member that is gone for good')
    }
  }

  /** Stops for good: the colleague never recovers; a supervisor starts a new one. */
  private crash(error: ColleagueError): ColleagueError {
    if (this.state === 'crashed' || this.state === 'shut-down') return error
    this.state = 'crashed'
    this.failure = error
    // An exile never takes part again: the next start with this directory begins as a newcomer.
    if (error.code === 'EXILED') this.retireStorage()
    this.logger.error({ err: error, code: error.code }, 'crashed')
    // Pending calls fail with the crash itself; later calls get CRASHED.
    const end = (): Promise<void> => {
      const closing = this.teardown(error)
      this.emit('crash', error)
      return closing
    }
    // An exile first sends what its legislator sent last, for at most a
    // timeout: a leader whose government exiled it tells the others that
    // government is chosen, and they may have nobody else to learn it from.
    this.closing = error.code === 'EXILED' ? this.drainedWithin(this.timeoutMs).then(end) : end()
    return error
  }

  private async teardown(reason: ColleagueError): Promise<void> {
    this.kibitzer.stop()
    this.observer.stop()
    this.applier.stop()
    this.durability?.close()
    for (const deferred of this.submissions.values()) deferred.reject(reason)
    this.submissions.clear()
    this.waiters.rejectAll(reason)
    const server = this.server === null ? Promise.resolve() : closeServer(this.server, CLOSE_GRACE_MS)
    await Promise.all([this.status.close(), server, this.transport.close()])
  }

  /** A failed join leaves the colleague idle: nothing was admitted that it knows of. */
  private abandonJoin(error: ColleagueError): ColleagueError {
    if (this.state === 'joining') this.state = 'idle'
    return error
  }

  // ------------------------------------------------------------------ checks

  /** Calls into the legislator; a throw there (a core bug) has crashed the colleague: report that. */
  private act<T>(action: (legislator: Legislator) => T): T {
    try {
      return this.kibitzer.act(action)
    } catch (error) {
      if (isColleagueError(error)) throw error
      throw this.failure ?? new ColleagueError('INTERNAL', 'the legislator failed', { cause: error })
    }
  }

  private currentIslandId(): string | null {
    return this.islandId ?? this.legislator.government?.islandId ?? null
  }

  private assertAlive(): void {
    if (this.state === 'crashed') {
      throw new ColleagueError('CRASHED', 'the colleague crashed', { cause: this.failure })
    }
    if (this.state === 'shut-down') throw new ColleagueError('SHUT_DOWN', 'the colleague was shut down')
  }

  private assertIdle(): void {
    this.assertAlive()
    if (this.state !== 'idle') throw new ColleagueError('ALREADY_JOINED', `the colleague is ${this.state}`)
  }

  /** Refuses bodies for another island, and everything before this colleague is in one. */
  private assertIsland(islandName: string, islandId: string | null, joining: boolean): void {
    if (islandName !== this.islandName) throw wrongIsland(islandName)
    const known = this.currentIslandId()
    if (known === null) {
      if (!joining) throw new ColleagueError('NOT_JOINED', 'this colleague is not in an island yet')
      return
    }
    if (islandId !== null && islandId !== known) throw wrongIsland(islandId)
  }

  private requireLocation(): string {
    if (this.location === null) throw new ColleagueError('NO_LOCATION', 'call listen() first or pass location')
    return this.location
  }
}

// -------------------------------------------------------------------- helpers

/** The members `join()` may ask: one URL, or a list of 1 to MEMBERS_MAX of them, each an http or https URL. */
function joinUrls(given: unknown): readonly string[] {
  const urls: unknown[] = typeof given === 'string' ? [given] : Array.isArray(given) ? given : []
  if (urls.length === 0 || urls.length > MEMBERS_MAX) {
    throw new ColleagueError('INVALID_OPTIONS', `join() takes a member's URL or a list of 1 to ${MEMBERS_MAX} of them`)
  }
  for (const url of urls) {
    let parsed: URL | null = null
    try {
      parsed = typeof url === 'string' ? new URL(url) : null
    } catch {
      parsed = null
    }
    if (parsed === null || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      throw new ColleagueError('INVALID_OPTIONS', `join() takes http or https URLs, got ${(JSON.stringify(url) ?? String(url)).slice(0, 200)}`)
    }
  }
  return urls as string[]
}

/** Every option `new Colleague` takes (see options.ts), each named once, whatever its value; anything else is refused. */
const OPTION_NAMES: ReadonlySet<string> = new Set(
  Object.keys({
    islandName: true, colleagueId: true, host: true, port: true, location: true, parliamentSize: true, pingMs: true,
    timeoutMs: true, minorityPaceMs: true, secret: true, logger: true, application: true, random: true, randomId: true,
    clock: true, transport: true, joinTimeoutMs: true, outOfBandTimeoutMs: true, bodyBytesMax: true, bodiesBytesMax: true, valueBytesMax: true,
    signatureWindowMs: true, storage: true,
  } satisfies Record<keyof ColleagueOptions, true>),
)
const STORAGE_OPTION_NAMES: ReadonlySet<string> = new Set(
  Object.keys({ directory: true, snapshotEveryEntries: true, exileMs: true, fileSystem: true, mutant: true } satisfies Record<keyof StorageOptions, true>),
)

/** The longest delay a timer takes (2^31 - 1 ms, about 24.8 days): node:timers fires a longer one after 1 ms. */
const TIMER_MS_MAX = 2 ** 31 - 1

/** The signal of a call's options (`enqueue`, `barrier`, `promoted`, `leave`), checked as the constructor's are. */
function signalOf(options: WaitOptions | undefined): AbortSignal | undefined {
  if (options === undefined) return undefined
  if (typeof options !== 'object' || options === null) throw new ColleagueError('INVALID_OPTIONS', 'the options of a call must be an object')
  for (const name of Object.keys(options)) {
    if (name !== 'signal') throw new ColleagueError('INVALID_OPTIONS', `unknown option ${JSON.stringify(name)} (a call takes signal)`)
  }
  const { signal } = options
  // As node's own APIs check one: by shape, so that a signal of another realm (a vm context) is one too.
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || !('aborted' in signal) || typeof signal.addEventListener !== 'function')) {
    throw new ColleagueError('INVALID_OPTIONS', 'signal must be an AbortSignal')
  }
  return signal
}

/** Rejects a call whose signal has already aborted, with its reason, before anything is enqueued. */
function assertNotAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw signal.reason
}

function validateOptions(options: ColleagueOptions): void {
  const invalid = (message: string): ColleagueError => new ColleagueError('INVALID_OPTIONS', message)
  if (typeof options !== 'object' || options === null) throw invalid('the options must be an object')
  if (typeof options.application !== 'object' || options.application === null) throw invalid('application must be an object of callbacks')
  for (const name of ['snapshot', 'restore', 'join', 'outOfBand', 'government'] as const) {
    const callback = (options.application as unknown as Record<string, unknown>)[name]
    if (callback !== undefined && typeof callback !== 'function') throw invalid(`application.${name} must be a function when given, got ${typeof callback}`)
  }
  for (const name of ['random', 'randomId'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw invalid(`${name} must be a function when given`)
  }
  const { logger, clock, transport } = options
  if (logger !== undefined && !hasMethods(logger, ['trace', 'debug', 'info', 'warn', 'error'])) {
    throw invalid('logger must be pino-like: trace, debug, info, warn and error functions (and child, when given, a function)')
  }
  if (logger !== undefined && logger.child !== undefined && typeof logger.child !== 'function') throw invalid('logger.child must be a function when given')
  if (clock !== undefined && !hasMethods(clock, ['now', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'])) {
    throw invalid('clock must have now, setInterval, clearInterval, setTimeout and clearTimeout functions')
  }
  if (transport !== undefined && !hasMethods(transport, ['post', 'close'])) throw invalid('transport must have post and close functions')
  for (const name of ['pingMs', 'timeoutMs', 'joinTimeoutMs', 'outOfBandTimeoutMs', 'signatureWindowMs'] as const) {
    const value = options[name]
    if (value !== undefined && !(typeof value === 'number' && value > 0 && value <= TIMER_MS_MAX)) {
      throw invalid(`${name} must be a number of milliseconds above 0 and at most ${TIMER_MS_MAX}, got ${describeOption(value)}`)
    }
  }
  if (options.storage !== undefined && (typeof options.storage !== 'object' || options.storage === null)) {
    throw invalid('storage must be an object ({ directory, ... }) when given')
  }
  // A misspelt option (`pingms`) would otherwise leave its default in place without a word.
  const unknown = Object.keys(options).find((name) => !OPTION_NAMES.has(name))
  if (unknown !== undefined) throw invalid(`unknown option ${JSON.stringify(unknown)}`)
  const unknownStorage = options.storage === undefined ? undefined : Object.keys(options.storage).find((name) => !STORAGE_OPTION_NAMES.has(name))
  if (unknownStorage !== undefined) throw invalid(`unknown option storage.${unknownStorage}`)
  if (typeof options.islandName !== 'string' || options.islandName.length === 0 || options.islandName.length > 256) {
    throw invalid('islandName must be a non-empty string of at most 256 characters')
  }
  if (options.colleagueId !== undefined && !isIdText(options.colleagueId)) {
    throw invalid('colleagueId must be a non-empty string of at most 256 characters')
  }
  if (options.colleagueId !== undefined && RESERVED_IDS.has(options.colleagueId)) {
    throw invalid(`colleagueId cannot be ${JSON.stringify(options.colleagueId)}, the name of a property every object has`)
  }
  if (typeof options.application?.entry !== 'function') throw invalid('application.entry must be a function')
  const { parliamentSize, port, host } = options
  if (parliamentSize !== undefined && !(Number.isSafeInteger(parliamentSize) && parliamentSize >= 1 && parliamentSize % 2 === 1 && parliamentSize <= MEMBERS_MAX)) {
    throw invalid(`parliamentSize must be an odd integer from 1 to ${MEMBERS_MAX - 1 + (MEMBERS_MAX % 2)}, got ${String(parliamentSize)}`)
  }
  if (port !== undefined && !(Number.isSafeInteger(port) && port >= 0 && port <= 65_535)) throw invalid(`port must be an integer from 0 to 65535, got ${String(port)}`)
  if (host !== undefined && (typeof host !== 'string' || host.length === 0)) throw invalid('host must be a non-empty string')
  if (options.location !== undefined && !isHttpLocation(options.location)) {
    throw invalid(`location must be an http(s) URL of at most ${LOCATION_LENGTH_MAX} characters`)
  }
  if (options.secret !== undefined && (typeof options.secret !== 'string' || options.secret.length === 0)) throw invalid('secret must be a non-empty string')
  const bodyBytesMax = options.bodyBytesMax ?? DEFAULTS.bodyBytesMax
  if (!Number.isSafeInteger(bodyBytesMax) || bodyBytesMax < 1024) throw invalid('bodyBytesMax must be an integer >= 1024')
  const bodiesBytesMax = options.bodiesBytesMax
  if (bodiesBytesMax !== undefined && (!Number.isSafeInteger(bodiesBytesMax) || bodiesBytesMax < bodyBytesMax)) {
    throw invalid(`bodiesBytesMax must be an integer of at least bodyBytesMax (${bodyBytesMax})`)
  }
  const valueBytesMax = options.valueBytesMax
  if (valueBytesMax !== undefined && (!Number.isSafeInteger(valueBytesMax) || valueBytesMax < 1 || valueBytesMax * BODY_PER_VALUE_MIN > bodyBytesMax)) {
    throw invalid(`valueBytesMax must be a positive integer of at most bodyBytesMax / ${BODY_PER_VALUE_MIN} (${Math.floor(bodyBytesMax / BODY_PER_VALUE_MIN)})`)
  }
  if (options.storage !== undefined) {
    const { directory, snapshotEveryEntries } = options.storage
    if (typeof directory !== 'string' || directory.length === 0) throw invalid('storage.directory must be a non-empty path')
    if (snapshotEveryEntries !== undefined && !(Number.isSafeInteger(snapshotEveryEntries) && snapshotEveryEntries >= 1)) {
      throw invalid('storage.snapshotEveryEntries must be a positive integer')
    }
    const { exileMs } = options.storage
    if (exileMs !== undefined && !(typeof exileMs === 'number' && exileMs > 0 && exileMs <= TIMER_MS_MAX)) {
      throw invalid(`storage.exileMs must be a number of milliseconds above 0 and at most ${TIMER_MS_MAX}`)
    }
    const { fileSystem, mutant } = options.storage
    const required = ['makeDirectory', 'list', 'read', 'openAppend', 'writeSynced', 'rename', 'syncDirectory', 'remove', 'truncate']
    const optional = ['readAt', 'writeSyncedAsync', 'lock']
    const given = fileSystem as unknown as Record<string, unknown> | undefined
    if (fileSystem !== undefined && (!hasMethods(fileSystem, required) || optional.some((name) => given?.[name] !== undefined && typeof given[name] !== 'function'))) {
      throw invalid(`storage.fileSystem must have ${required.join(', ')} functions (and ${optional.join(', ')} functions when given)`)
    }
    if (mutant !== undefined && !(STORAGE_MUTANTS as readonly unknown[]).includes(mutant)) {
      throw invalid(`storage.mutant must be one of ${STORAGE_MUTANTS.join(', ')} (a test hook), got ${describeOption(mutant)}`)
    }
    if (typeof options.application.snapshot !== 'function' || typeof options.application.restore !== 'function') {
      throw invalid('storage needs application.snapshot and application.restore: a restart rebuilds the state from them')
    }
  }
  const { minorityPaceMs } = options
  if (minorityPaceMs !== undefined && !(typeof minorityPaceMs === 'number' && minorityPaceMs >= 0 && minorityPaceMs <= (options.pingMs ?? DEFAULTS.pingMs))) {
    throw invalid(`minorityPaceMs must be a number of milliseconds from 0 to pingMs, got ${String(minorityPaceMs)}`)
  }
  try {
    tickSchedule(options.pingMs ?? DEFAULTS.pingMs, options.timeoutMs ?? DEFAULTS.timeoutMs)
  } catch (error) {
    throw new ColleagueError('INVALID_OPTIONS', (error as Error).message, { cause: error })
  }
}

/** `value` and everything in it made read-only (governments: plain JSON data, no cycles). */
function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  return Object.freeze(value)
}

/** A colleague id from `randomId`, held to the rules a given `colleagueId` is. */
function mintedId(randomId: () => string): string {
  const id: unknown = randomId()
  if (!isIdText(id) || RESERVED_IDS.has(id)) {
    throw new ColleagueError('INVALID_OPTIONS', `randomId() returned ${JSON.stringify(id) ?? String(id)}: an id is 1 to 256 characters, not the name of a property every object has`)
  }
  return id
}

/** What a colleague id (given or minted) must be: 1 to 256 characters. */
function isIdText(id: unknown): id is string {
  return typeof id === 'string' && id.length >= 1 && id.length <= 256
}

function hasMethods(value: unknown, names: readonly string[]): boolean {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false
  return names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function')
}

/** An option's value in a message: its type too when that is what is wrong (`'100'` is not 100). */
function describeOption(value: unknown): string {
  return typeof value === 'string' ? `the string ${JSON.stringify(value)}` : String(value)
}

function validate<T>(check: Validator<T>, body: unknown): T {
  if (!check.Check(body)) throw new ColleagueError('INVALID_BODY', firstError(check, body))
  return body
}

/**
 * What the schema cannot say: each message is one the legislator takes (it
 * ignores any other, so a peer would never learn why it is not heard), and
 * the text of every value a message carries (new, chosen, promised or
 * forwarded) is JSON: one that is not would stop every member that applies
 * it. The whole body is refused, before anything of it is taken. The values
 * parsed here go into `parsed`.
 */
function assertMessages(kibitz: KibitzBody, parsed: WeakMap<Submission, unknown>): void {
  const { messages } = kibitz
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index] as KibitzBody['messages'][number]
    const type = message.type
    if (!isMessage(message)) {
      throw new ColleagueError(
        'INVALID_BODY',
        `/messages/${index} (${type}) is not a message a legislator takes: every number a safe integer, ` +
          'a sequence number from 1 with its floor below it, a range from no later than to, and a government whose ' +
          'parliament is odd, naturalized, listed once, with a majority of quorum size',
      )
    }
    switch (message.type) {
      case 'accept':
        assertValues(message.entries, index, 'entries', parsed)
        assertValues(message.chosen, index, 'chosen', parsed)
        break
      case 'promise':
        assertValues(message.accepted, index, 'accepted', parsed)
        break
      case 'forward':
        for (const submission of message.submissions) {
          // A forwarded submission is the object the leader's log goes on to hold: its parse is applied there.
          if (!parseInto(submission, parsed)) throw new ColleagueError('INVALID_BODY', `a forwarded value from ${submission.from} is not JSON text`)
        }
        assertValues(message.chosen ?? [], index, 'chosen', parsed)
        break
    }
  }
}

function assertValues(entries: readonly Accepted[], index: number, field: string, parsed: WeakMap<Submission, unknown>): void {
  for (const accepted of entries) {
    const entry = accepted.entry
    if (entry.type === 'value' && !parseInto(entry.submission, parsed)) {
      throw new ColleagueError('INVALID_BODY', `/messages/${index}/${field}: the value at position ${accepted.position} is not JSON text`)
    }
  }
}

/** Parses `submission`'s value text into `parsed`; false when it is not JSON text. */
function parseInto(submission: Submission, parsed: WeakMap<Submission, unknown>): boolean {
  const text = submission.value
  if (typeof text !== 'string') return false
  try {
    parsed.set(submission, JSON.parse(text) as unknown)
    return true
  } catch {
    return false
  }
}

function wrongIsland(name: string): ColleagueError {
  return new ColleagueError('WRONG_ISLAND', `addressed to island ${JSON.stringify(name)}, not this one`)
}

function refusalError(code: LegislatorRefusal): ColleagueError {
  return new ColleagueError(code, `the legislator refused: ${code}`)
}

/** An acceptor's short replies travel back in the answer to the POST that asked; anything that may be large goes on its own. */
function isAnswerable(message: Message): boolean {
  return message.type === 'accepted' || message.type === 'reject'
}

function isThenable(value: unknown): value is PromiseLike<void> {
  return typeof (value as PromiseLike<void> | null)?.then === 'function'
}

/**
 * Durable mode: a member is exiled after `exileMs` of silence (it is expected
 * back), and the leader tells the exiles it remembers that they were, as
 * often: one exiled while it was down may know no living member.
 */
function durableExile(schedule: TickSchedule, exileMs: number): { exileTicks: number; exileNoticeTicks: number } {
  const exileTicks = Math.max(2 * schedule.timeoutTicks, Math.ceil(exileMs / schedule.tickMs))
  return { exileTicks, exileNoticeTicks: exileTicks }
}
