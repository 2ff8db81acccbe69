// Immigration, both sides: a newcomer asks any member to admit it (POST /join,
// which that member's legislator forwards to the leader), waits for its
// arrival government, and fetches the application's state with one
// out-of-band request to that government's leader; a member serves both
// requests, and as an arrival's leader keeps the snapshot its newcomers will
// ask for. The colleague owns the lifecycle; this module owns the protocol.

import type { Clock, TimerHandle } from '../kibitzer/clock.js'
import { isMember, membersOf } from '../paxos/government.js'
import type { Legislator } from '../paxos/legislator.js'
import type { Government } from '../paxos/types.js'
import { ColleagueError, isColleagueError } from './errors.js'
import type { PinoLikeLogger } from './logger.js'
import type { ColleagueMutant } from './mutants.js'
import type { JsonValue } from './json.js'
import type { Application } from './options.js'
import type { PeerTransport } from './peer-client.js'
import { NAME_LENGTH_MAX, validators, type JoinAnswer, type JoinBody, type OutOfBandBody } from './schemas.js'
import { SnapshotStore } from './snapshot-store.js'
import { encodeValue } from './value-text.js'
import type { Waiters } from './waiters.js'

/** The built-in out-of-band request a newcomer makes without a `join` callback. */
export const SNAPSHOT_REQUEST = 'snapshot'

/** A bounded wait for admission ran out; not an error by itself. */
const NOT_YET = Symbol('not yet')

/** What immigration needs of its colleague. */
export interface ImmigrationHost {
  readonly islandName: string
  readonly colleagueId: string
  readonly application: Application
  readonly legislator: Legislator
  readonly transport: PeerTransport
  readonly clock: Clock
  readonly waiters: Waiters
  readonly logger: PinoLikeLogger
  readonly timeoutMs: number
  readonly joinTimeoutMs: number
  readonly outOfBandTimeoutMs: number
  /** A deliberately broken variant, for the simulator's own tests; null in real use. */
  readonly mutant: ColleagueMutant | null
  /** The latest government entry applied here. */
  appliedGovernment(): Government | null
  /** Calls into the legislator through the kibitzer. */
  act<T>(action: (legislator: Legislator) => T): T
  /** Stops the colleague for good with `error`, and returns it. */
  crash(error: ColleagueError): ColleagueError
  /** The first join request failed: the colleague is idle again. */
  abandonJoin(error: ColleagueError): ColleagueError
  /** The newcomer has its state: naturalize it (unless it stopped meanwhile). */
  naturalize(arrival: string): void
  /** Whether this colleague has its state already (the founder, a naturalized newcomer, a member resumed from its directory). */
  naturalized(): boolean
}

export class Immigration {
  private readonly host: ImmigrationHost
  private readonly snapshots = new SnapshotStore()
  /** Arrivals whose snapshot this leader is still taking (an asynchronous `snapshot()` under way). */
  private readonly taking = new Set<string>()
  private outOfBandInvocations = 0

  constructor(host: ImmigrationHost) {
    this.host = host
  }

  // ------------------------------------------------------------ the newcomer

  /**
   * Asks the members at `urls` (any living ones; one will do) to admit this
   * colleague and waits until its arrival government is known here; hands on
   * the island id a member answered. Rejects (having crashed the colleague)
   * after `deadline`.
   */
  async join(urls: readonly string[], location: string, deadline: number, onIslandId: (islandId: string) => void): Promise<void> {
    const { host } = this
    const body: JoinBody = { islandName: host.islandName, id: host.colleagueId, properties: { location } }
    const first = await this.firstAnswer(urls, body, deadline)
    if ('error' in first && host.legislator.arrival === null) {
      throw isColleagueError(first.error) ? host.abandonJoin(first.error) : first.error
    }
    if ('answer' in first) {
      onIslandId(first.answer.islandId)
      host.logger.info({ url: first.url, islandId: first.answer.islandId }, 'immigration requested')
    } else {
      host.logger.info({ urls }, 'admitted before the answer to the immigration request came; the join goes on')
    }
    // Admission is idempotent, and a request forwarded to a leader that died
    // (or to none, mid-election) is lost: ask again every timeout, each of the
    // members given in turn, until the arrival government names this colleague.
    for (let attempt = 1; ; attempt++) {
      const remainingMs = deadline - host.clock.now()
      const waited = Math.max(0, Math.min(host.timeoutMs, remainingMs))
      const admitted = await host.waiters.until(() => host.legislator.arrival !== null, waited, () => NOT_YET).then(
        () => true,
        (error: unknown) => {
          if (error === NOT_YET) return false
          throw error // the colleague crashed or was shut down meanwhile
        },
      )
      if (admitted) return
      if (remainingMs <= host.timeoutMs) {
        const error = new ColleagueError('JOIN_TIMEOUT', `not admitted within ${host.joinTimeoutMs} ms`)
        host.crash(error)
        throw error
      }
      const url = urls[attempt % urls.length] as string
      host.logger.debug({ url, attempt }, 'immigration not seen yet; asking again')
      const repeated = await this.requestImmigration(url, body, false).then(
        () => null,
        (error: unknown) => error,
      )
      // Another process holds the id, or the island admitted this colleague and exiled it before it heard
      // of its arrival (no member could reach it at its location): no member will admit it.
      if (isColleagueError(repeated) && (repeated.code === 'ID_IN_USE' || repeated.code === 'ID_EXILED')) {
        throw host.abandonJoin(this.exiledNewcomer(repeated, location))
      }
      if (repeated !== null) host.logger.debug({ url, err: repeated }, 'repeated join request failed')
    }
  }

  /** A repeat refused with ID_EXILED: admitted, then exiled before this colleague heard of its arrival. */
  private exiledNewcomer(refusal: ColleagueError, location: string): ColleagueError {
    if (refusal.code !== 'ID_EXILED') return refusal
    return new ColleagueError(
      'ID_EXILED',
      `the island admitted ${JSON.stringify(this.host.colleagueId)} and exiled it before it heard of its arrival: ` +
        `no member could reach it at ${location} (check location, or --bind/--location), or an earlier process with this id ` +
        'was admitted and stopped before its join completed; join with another id',
      { cause: refusal },
    )
  }

  /**
   * The first of: an answer to any immigration request, the admission seen
   * here, `ID_IN_USE` (no member would admit this id), the failure or refusal
   * of the first request to every member given (the last one's error), the
   * colleague's end, or `deadline`.
   *
   * The first request to each member gets the rest of the join's time, not
   * one peer timeout, so that a busy member's slow answer is not a failed
   * join; one that fails or is refused (the member cannot be reached, is not
   * in the island yet, ...) moves on to the next member at once. A request
   * may be lost on its way (a partition, a member paused, a connection that
   * hangs), and its answer may be lost after it went through: so every
   * timeout while nothing has come, one more request goes, to the next
   * member not asked yet, then to each in turn (bounded by one timeout), and
   * any answer will do. Once the island has admitted this
   * colleague, the join goes on at once, as a member that may already vote,
   * or lead, whatever becomes of the answers.
   */
  private firstAnswer(urls: readonly string[], body: JoinBody, deadline: number): Promise<FirstAnswer> {
    const { host } = this
    return new Promise((resolve) => {
      let settled = false
      let timer: TimerHandle | null = null
      // Members given a first request, first requests that failed, and the member the next repeat goes to.
      let asked = 0
      let failed = 0
      let turn = 0
      const settle = (result: FirstAnswer): void => {
        if (settled) return
        settled = true
        if (timer !== null) host.clock.clearTimeout(timer)
        resolve(result)
      }
      const send = (): void => {
        const first = asked < urls.length
        const url = (first ? urls[asked++] : urls[turn++ % urls.length]) as string
        const timeoutMs = first ? Math.max(1, deadline - host.clock.now()) : host.timeoutMs
        this.requestImmigration(url, body, false, timeoutMs).then(
          (answer) => settle({ answer, url }),
          (error: unknown) => {
            if (settled) return
            // Another process holds the id, or the island exiled it: no member will admit this one. Any other
            // refusal is one member's (not in the island yet, exiled itself, of another island): the next may still admit it.
            if (isColleagueError(error) && (error.code === 'ID_IN_USE' || error.code === 'ID_EXILED')) return settle({ error })
            if (!first) return
            if (++failed === urls.length) return settle({ error })
            if (asked < urls.length && deadline - host.clock.now() > 0) {
              host.logger.debug({ url, err: error }, 'immigration request failed or refused; asking the next member')
              send()
            }
          },
        )
      }
      const repeat = (): void => {
        timer = null
        if (settled || deadline - host.clock.now() <= 0) return
        host.logger.debug({ urls }, 'no answer to the immigration request yet; asking again')
        send()
        timer = host.clock.setTimeout(repeat, host.timeoutMs)
      }
      host.waiters.until(() => host.legislator.arrival !== null, Math.max(1, deadline - host.clock.now()), () => NOT_YET).then(
        () => settle({ admitted: true }),
        (error: unknown) => {
          // The colleague ended, or the join's time ran out with no answer.
          if (error !== NOT_YET) settle({ error })
          else settle({ error: new ColleagueError('JOIN_FAILED', `no answer to POST /join from ${listed(urls)} within ${host.joinTimeoutMs} ms`) })
        },
      )
      send()
      if (!settled) timer = host.clock.setTimeout(repeat, host.timeoutMs)
    })
  }

  /** POST /join; the first request's failure abandons the join (`abandon`), a repeat's does not. */
  private async requestImmigration(url: string, body: JoinBody, abandon = true, timeoutMs = this.host.timeoutMs): Promise<JoinAnswer> {
    const { host } = this
    const fail = (error: ColleagueError): ColleagueError => (abandon ? host.abandonJoin(error) : error)
    let answer
    try {
      answer = await host.transport.post(url, '/join', JSON.stringify(body), timeoutMs)
    } catch (error) {
      throw fail(new ColleagueError('JOIN_FAILED', `POST ${url}/join failed`, { cause: error }))
    }
    const parsed = parseJson(answer.text)
    if (answer.status < 200 || answer.status > 299) {
      const remote = remoteError(parsed)
      const code = remote?.code === 'ID_IN_USE' || remote?.code === 'ID_EXILED' ? remote.code : answer.status < 500 ? 'JOIN_REFUSED' : 'JOIN_FAILED'
      // A signed island tells a stranger nothing of why: the likely causes are named here instead.
      const why = remote?.code === 'UNAUTHORIZED' ? ': a secret other than the island\'s, or a clock more than signatureWindowMs off the member\'s' : ''
      throw fail(
        new ColleagueError(code, `${url} refused the join (${answer.status} ${remote?.code ?? ''})${why}`, { cause: remote ?? answer.text }),
      )
    }
    if (!validators.joinAnswer.Check(parsed) || parsed.islandName !== host.islandName) {
      throw fail(new ColleagueError('JOIN_FAILED', `${url} answered an unexpected body`, { cause: answer.text }))
    }
    return parsed
  }

  /** The newcomer's first applied entry is its arrival: get the state, then naturalize. */
  async immigrate(government: Government): Promise<void> {
    const { host } = this
    const arrival = government.promise
    host.logger.info({ arrival, leader: government.majority[0] }, 'admitted; fetching state out of band')
    const fetch = async (): Promise<void> => {
      if (host.application.join !== undefined) {
        await host.application.join({ arrival, outOfBand: (name, post) => this.outOfBand(name, post) })
      } else {
        const state = await this.outOfBand(SNAPSHOT_REQUEST, { arrival })
        if (host.application.restore === undefined) {
          // Not an error: an application that keeps no state needs none. One that does now differs from the rest.
          if (state !== null) host.logger.warn({ arrival }, 'the leader sent its application state, but the application has no restore(): this colleague starts from nothing at its arrival')
        } else {
          // Parsed from the leader's JSON answer: JSON by construction.
          await host.application.restore(state as JsonValue)
        }
      }
      host.naturalize(arrival)
    }
    if (host.mutant === 'apply-before-restore') {
      fetch().catch(() => {})
      return
    }
    await fetch()
  }

  /**
   * One out-of-band request to the leader of the government applied here
   * (for a newcomer: its arrival government). Any failure crashes the
   * colleague: see the README, Lifecycle. A call that could not be sent as
   * asked (a name that is not 1 to 256 characters, a post JSON cannot carry
   * exactly) is refused with INVALID_VALUE before anything is sent, and
   * crashes nothing.
   */
  async outOfBand(name: string, post: unknown): Promise<unknown> {
    const { host } = this
    if (typeof name !== 'string' || name.length === 0 || name.length > NAME_LENGTH_MAX) {
      throw new ColleagueError('INVALID_VALUE', `an out-of-band name is a string of 1 to ${NAME_LENGTH_MAX} characters`)
    }
    try {
      encodeValue(post ?? null, Number.MAX_SAFE_INTEGER)
    } catch (error) {
      throw new ColleagueError('INVALID_VALUE', `the out-of-band post: ${(error as Error).message}`, { cause: error })
    }
    const applied = host.appliedGovernment()
    if (applied === null) throw new ColleagueError('NOT_JOINED', 'no government applied yet')
    // A newcomer's call, whose failure it cannot outlive; a member with its state has nothing to ask.
    if (host.naturalized()) throw new ColleagueError('ALREADY_JOINED', 'out of band is a newcomer\'s request to its arrival leader; this colleague is naturalized')
    const government = host.mutant === 'oob-current-leader' ? (host.legislator.government ?? applied) : applied
    const leader = government.majority[0] ?? ''
    const location = locationOf(government.properties[leader])
    const invocation = ++this.outOfBandInvocations
    host.logger.trace({ invocation, name, leader, location }, 'outOfBandCall')
    const body: OutOfBandBody = {
      islandName: host.islandName,
      islandId: government.islandId,
      from: host.colleagueId,
      // Signed with the body: a captured request cannot fetch the state from another member.
      to: leader,
      arrival: host.legislator.arrival,
      name,
      post: post ?? null,
    }
    try {
      if (location === null) throw new ColleagueError('OUT_OF_BAND_FAILED', `leader ${leader} has no location`)
      const result = await this.callOutOfBand(location, body).catch((error: unknown) => {
        if (host.mutant !== 'oob-retry') throw error
        return this.callOutOfBand(location, body)
      })
      host.logger.trace({ invocation, ok: true }, 'outOfBandReturn')
      return result
    } catch (error) {
      const failure = isColleagueError(error)
        ? error
        : new ColleagueError('OUT_OF_BAND_FAILED', 'out-of-band request failed', { cause: error })
      host.logger.trace({ invocation, ok: false, code: failure.code, reason: failure.message }, 'outOfBandReturn')
      host.crash(failure)
      throw failure
    }
  }

  /**
   * Exactly one POST /oob, no retry. Any failure (unreachable, timeout,
   * non-2xx, malformed answer) comes back as OUT_OF_BAND_FAILED.
   */
  private async callOutOfBand(location: string, body: OutOfBandBody): Promise<unknown> {
    let answer
    try {
      answer = await this.host.transport.post(location, '/oob', JSON.stringify(body), this.host.outOfBandTimeoutMs)
    } catch (error) {
      throw outOfBandFailed(`${location} unreachable or timed out`, error)
    }
    if (answer.status < 200 || answer.status > 299) {
      throw outOfBandFailed(`${location} answered ${answer.status}: ${answer.text.slice(0, 200)}`, answer.text)
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(answer.text)
    } catch (error) {
      throw outOfBandFailed(`${location} answered a body that is not JSON`, error)
    }
    if (!validators.oobAnswer.Check(parsed)) throw outOfBandFailed(`${location} answered without a result`, answer.text)
    return parsed.result
  }

  // ------------------------------------------------------------ the members

  /** Forwards a newcomer's request to the legislator, which passes it to the leader. */
  receiveJoin(id: string, properties: JoinBody['properties']): void {
    // The same newcomer asking again is admitted once (idempotent); another process with the id is not.
    const government = this.host.legislator.government
    const holder = government !== null && isMember(government, id) ? government.properties[id]?.['location'] : undefined
    if (holder !== undefined && holder !== properties.location) {
      throw new ColleagueError('ID_IN_USE', `${JSON.stringify(id)} is a living member's id (at ${String(holder)})`)
    }
    // Exile is for good: the newcomer's own id in the exiled list is a definite answer (a plain
    // EXILED would say that the member asked is exiled itself, and another may still admit it).
    if (government !== null && government.exiled.includes(id)) {
      throw new ColleagueError('ID_EXILED', `${JSON.stringify(id)} was exiled from the island and is not admitted again; join with another id`)
    }
    const refusal = this.host.act((legislator) => legislator.immigrate(id, properties))
    if (refusal !== null) throw new ColleagueError(refusal, `the legislator refused: ${refusal}`)
    this.host.logger.debug({ newcomer: id, location: properties.location }, 'immigration forwarded')
  }

  /** Serves a newcomer's out-of-band request, once this colleague has applied its arrival. */
  async receiveOutOfBand(oob: OutOfBandBody): Promise<{ result: unknown }> {
    const { host } = this
    if (oob.arrival !== null) {
      const arrival = oob.arrival
      const arrivalNumber = governmentNumber(arrival)
      // Applied, and (as its leader) with the snapshot taken: `snapshot()` may be asynchronous.
      await host.waiters.until(
        () => (host.appliedGovernment()?.number ?? 0) >= arrivalNumber && !this.taking.has(arrival),
        host.outOfBandTimeoutMs / 2,
        () => new ColleagueError('ARRIVAL_NOT_APPLIED', `arrival ${arrival} not applied here, or its snapshot not taken, in time`),
      )
    }
    if (oob.name === SNAPSHOT_REQUEST && host.application.join === undefined) {
      const snapshot = oob.arrival === null ? undefined : this.snapshots.take(oob.arrival, oob.from)
      if (snapshot === undefined) {
        throw new ColleagueError('OUT_OF_BAND_NOT_FOUND', `no snapshot kept for ${oob.from} at ${oob.arrival}`)
      }
      host.logger.info({ newcomer: oob.from, arrival: oob.arrival }, 'snapshot served')
      return { result: snapshot.state }
    }
    const serve = host.application.outOfBand
    if (serve === undefined) throw new ColleagueError('OUT_OF_BAND_NOT_FOUND', `no out-of-band handler for ${oob.name}`)
    let result: unknown
    try {
      result = await serve.call(host.application, oob.name, oob.post, { from: oob.from })
    } catch (error) {
      throw new ColleagueError('APPLICATION_FAILED', `outOfBand(${oob.name}) failed`, { cause: error })
    }
    // The one rule for what a member hands on: an answer JSON cannot carry exactly would reach the
    // newcomer as something else (a Map as {}, a NaN as null). The request fails; the newcomer crashes.
    if (result === undefined) return { result: null }
    try {
      encodeValue(result, Number.POSITIVE_INFINITY)
    } catch (error) {
      throw new ColleagueError('APPLICATION_FAILED', `outOfBand(${oob.name}) answered a value JSON cannot carry: ${(error as Error).message}`, {
        cause: error,
      })
    }
    return { result }
  }

  /** A member applied `government`: keep what its newcomers will ask for, forget the rest. */
  async applied(government: Government): Promise<void> {
    this.snapshots.forgetExcept(new Set(membersOf(government)))
    await this.keepSnapshotForNewcomers(government)
  }

  /** As the arrival government's leader, keeps the state its newcomers will ask for. */
  private async keepSnapshotForNewcomers(government: Government): Promise<void> {
    const { host } = this
    if (government.majority[0] !== host.colleagueId || host.application.join !== undefined) return
    const newcomers = Object.keys(government.arrived).filter(
      (id) => id !== host.colleagueId && government.arrived[id] === government.promise,
    )
    if (newcomers.length === 0) return
    // A newcomer that asks meanwhile waits for it (see `receiveOutOfBand`).
    this.taking.add(government.promise)
    try {
      let state: unknown
      try {
        state = host.application.snapshot === undefined ? null : await host.application.snapshot()
      } catch (error) {
        throw new ColleagueError(
          'APPLICATION_FAILED',
          `snapshot() failed, taken for ${newcomers.join(', ')} at their arrival ${government.promise}: ${describe(error)}`,
          { cause: error },
        )
      }
      this.snapshots.keep(government.promise, newcomers, state)
    } finally {
      this.taking.delete(government.promise)
      host.waiters.check()
    }
    host.logger.debug({ arrival: government.promise, newcomers }, 'snapshot kept for newcomers')
  }
}

export function locationOf(properties: Readonly<Record<string, unknown>> | undefined): string | null {
  const location = properties?.location
  return typeof location === 'string' ? location : null
}

/** The government number in a government's promise label, `${number}/0`. */
function governmentNumber(promise: string): number {
  const number = Number(promise.split('/', 1)[0])
  if (!Number.isInteger(number) || number < 1) {
    throw new ColleagueError('INVALID_BODY', `arrival ${JSON.stringify(promise)} is not a government promise`)
  }
  return number
}

function outOfBandFailed(message: string, cause: unknown): ColleagueError {
  return new ColleagueError('OUT_OF_BAND_FAILED', `out-of-band request failed: ${message}`, { cause })
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

function remoteError(body: unknown): { code: string; message: string } | null {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error
  if (typeof error?.code !== 'string') return null
  return { code: error.code, message: String(error.message ?? '') }
}

/** How the first phase of a join ended (see `Immigration.firstAnswer`). */
type FirstAnswer = { readonly answer: JoinAnswer; readonly url: string } | { readonly admitted: true } | { readonly error: unknown }

/** The URLs asked, for a message: the first three, and how many more. */
function listed(urls: readonly string[]): string {
  return urls.length <= 3 ? urls.join(', ') : `${urls.slice(0, 3).join(', ')} and ${urls.length - 3} more`
}

/** What a thrown value says, whatever it is (an object without a prototype has no toString). */
function describe(error: unknown): string {
  if (error instanceof Error) return error.message
  try {
    return String(error)
  } catch {
    return Object.prototype.toString.call(error)
  }
}
