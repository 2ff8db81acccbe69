// `paxos-colleague demo`: a whole island on loopback, one failover and one
// immigration, checked end to end and reported with timings.

import { isDeepStrictEqual } from 'node:util'
import type { DemoOptions } from './args.js'
import { callJson, describeFailure } from './http-client.js'
import { colleagueIdOf, describeGovernment, governmentOf, membersOf, parliamentOf, type GovernmentView } from './health-view.js'
import { spawnMember, type Exit, type MemberProcess } from './member-process.js'

/** Short failure detection so that failover takes about a second, not several. */
export const DEMO_PING_MS = 100
export const DEMO_TIMEOUT_MS = 500
const READY_TIMEOUT_MS = 15_000
const STEP_TIMEOUT_MS = 15_000
const CALL_TIMEOUT_MS = 2_000
const WRITE_TIMEOUT_MS = 5_000
const POLL_MS = 25
const STOP_TIMEOUT_MS = 3_000
const PARLIAMENT_SIZE = 5

export interface DemoIo {
  readonly stdout: NodeJS.WritableStream
  readonly stderr: NodeJS.WritableStream
  /** Aborted on SIGINT/SIGTERM: the demo stops its members and returns 130. */
  readonly signal: AbortSignal
}

class DemoFailure extends Error {}

export async function demo(options: DemoOptions, io: DemoIo): Promise<number> {
  const run = new DemoRun(options, io)
  try {
    await run.main()
    return 0
  } catch (error) {
    const interrupted = io.signal.aborted
    run.say(interrupted ? 'interrupted' : `FAILED: ${describeFailure(error)}`)
    if (!interrupted) run.printLogs()
    return interrupted ? 130 : 1
  } finally {
    await run.cleanup()
  }
}

class DemoRun {
  readonly #options: DemoOptions
  readonly #io: DemoIo
  readonly #startedAt = performance.now()
  readonly #controller = new AbortController()
  readonly #deadline: NodeJS.Timeout
  readonly #members = new Map<string, MemberProcess>()
  readonly #dead = new Set<string>()
  /** Every acknowledged write: the value each member must hold at the end. */
  readonly #expected = new Map<string, unknown>()
  #failoverMs: number | null = null

  constructor(options: DemoOptions, io: DemoIo) {
    this.#options = options
    this.#io = io
    const abort = (): void => this.#controller.abort(new DemoFailure('interrupted'))
    // A stop signal may have come while the demo loaded: the signal is aborted already.
    if (io.signal.aborted) abort()
    else io.signal.addEventListener('abort', abort, { once: true })
    this.#deadline = setTimeout(() => {
      this.#controller.abort(new DemoFailure(`the whole demo took longer than ${options.deadlineMs} ms`))
    }, options.deadlineMs)
  }

  get #signal(): AbortSignal {
    return this.#controller.signal
  }

  say(line: string): void {
    const seconds = ((performance.now() - this.#startedAt) / 1000).toFixed(2).padStart(6)
    this.#io.stdout.write(`[${seconds} s] ${line}\n`)
  }

  async main(): Promise<void> {
    const { members, keys } = this.#options
    this.#io.stdout.write(
      `paxos-colleague demo: ${members} members on 127.0.0.1, ping ${DEMO_PING_MS} ms, timeout ${DEMO_TIMEOUT_MS} ms\n`,
    )
    const founder = await this.#start('m1', ['--bootstrap'])
    for (let index = 2; index <= members; index += 1) {
      await this.#start(`m${index}`, ['--join', founder.url ?? ''], founder.name)
    }
    const whole = await this.#step('island whole', () => this.#waitWhole(founder))
    this.say(`island whole after ${ms(whole.ms)}: ${describeGovernment(whole.value)}`)

    const first = await this.#step('writes', () => this.#writeKeys('before', keys, this.#living()))
    this.say(`wrote ${keys} keys through ${names(this.#living())} in ${ms(first.ms)} (${perWrite(first.ms, keys)})`)

    await this.#failover(await this.#step('leader', () => this.#currentLeader()))

    const second = await this.#step('writes', () => this.#writeKeys('after', keys, this.#living()))
    this.say(`wrote ${keys} more keys through ${names(this.#living())} in ${ms(second.ms)} (${perWrite(second.ms, keys)})`)

    const contact = this.#living()[0]
    if (contact?.url == null) throw new DemoFailure('no living member to join through')
    const newcomer = await this.#start(`m${members + 1}`, ['--join', contact.url], contact.name)
    const received = await this.#get(`${newcomer.url}/kv`)
    const count = field(received, 'count')
    this.say(`newcomer ${newcomer.name} holds ${String(count)} keys, received out of band (expected ${this.#expected.size})`)
    const promoted = await this.#step('promotion', () =>
      this.#poll(`a parliament with ${newcomer.name}`, async () => {
        const view = governmentOf(await this.#health(newcomer))
        return view !== null && parliamentOf(view).includes(newcomer.name) ? view : null
      }),
    )
    this.say(`${newcomer.name} promoted into parliament after ${ms(promoted.ms)}: ${describeGovernment(promoted.value)}`)

    const read = await this.#step('read back', () => this.#readBack())
    this.say(
      `read ${this.#expected.size} keys back from each of ${names(this.#living())} in ${ms(read.ms)}: every member holds every acknowledged write, identical maps`,
    )
    if (this.#options.status) await this.#keepForStatus()
    const stopped = await this.#step('stop', () => this.#stopAll())
    this.say(`stopped ${stopped.value} members with SIGTERM in ${ms(stopped.ms)}, every one exited 0`)
    this.#io.stdout.write(`demo passed in ${ms(performance.now() - this.#startedAt)}; first write ${this.#failoverMs === null ? '?' : ms(this.#failoverMs)} after SIGKILL of the leader\n`)
  }

  /** `--status`: the island stays up, without a deadline, until the demo is interrupted. */
  async #keepForStatus(): Promise<void> {
    clearTimeout(this.#deadline)
    const [first, ...others] = this.#living()
    this.#io.stdout.write(
      `status page: ${first?.url ?? '?'}/status\n` +
        `  (also ${others.map((member) => `${member.url ?? '?'}/status`).join(', ')}); the island stays up until Ctrl-C\n`,
    )
    if (this.#io.signal.aborted) return
    await new Promise((resolve) => this.#io.signal.addEventListener('abort', resolve, { once: true }))
  }

  /** Asked just before the kill: leadership may have moved since the island was whole. */
  async #currentLeader(): Promise<MemberProcess> {
    return this.#poll('member that leads', async () => {
      for (const member of this.#living()) {
        const health = await this.#health(member)
        if (field(health, 'isLeader') === true && colleagueIdOf(health) === member.name) return member
      }
      return null
    })
  }

  async #failover(step: { value: MemberProcess }): Promise<void> {
    const leader = step.value
    const leaderId = leader.name
    const killedAt = performance.now()
    leader.kill('SIGKILL')
    this.#dead.add(leaderId)
    this.say(`SIGKILL leader ${leaderId} (pid ${leader.child.pid ?? '?'})`)
    const firstWrite = this.#firstWriteAfter(killedAt)
    const newGovernment = this.#step('new government', () =>
      this.#poll('a government without the killed leader', async () => {
        for (const member of this.#living()) {
          const view = governmentOf(await this.#health(member))
          if (view !== null && view.leader !== null && view.leader !== leaderId) return view
        }
        return null
      }),
    )
    const [write, elected] = await Promise.all([firstWrite, newGovernment])
    this.#failoverMs = write.ms
    const lines = [
      { at: elected.ms, line: `new ${describeGovernment(elected.value)}, seen ${ms(elected.ms)} after the kill` },
      { at: write.ms, line: `first write after the kill acknowledged by ${write.value} ${ms(write.ms)} after SIGKILL` },
    ]
    for (const { line } of lines.sort((a, b) => a.at - b.at)) this.say(line)
    const exiled = await this.#step('exile', () =>
      this.#poll(`a government that exiles ${leaderId}`, async () => {
        const [member] = this.#living()
        const view = member === undefined ? null : governmentOf(await this.#health(member))
        return view !== null && !membersOf(view).includes(leaderId) ? view : null
      }),
    )
    this.say(`${leaderId} exiled ${ms(performance.now() - killedAt)} after the kill: ${describeGovernment(exiled.value)}`)
  }

  /** Writes distinct keys until one is acknowledged: a timed-out write may still apply, so keys never repeat. */
  async #firstWriteAfter(killedAt: number): Promise<{ value: string; ms: number }> {
    const survivors = this.#living()
    for (let attempt = 0; ; attempt += 1) {
      this.#signal.throwIfAborted()
      if (performance.now() - killedAt > STEP_TIMEOUT_MS) {
        throw new DemoFailure(`no write acknowledged within ${STEP_TIMEOUT_MS} ms of the kill`)
      }
      const member = survivors[attempt % survivors.length]
      if (member?.url == null) throw new DemoFailure('no survivor to write to')
      const key = `failover-${attempt}`
      const value = { attempt, via: member.name }
      try {
        const answer = await callJson(`${member.url}/kv/${key}`, {
          method: 'PUT',
          body: value,
          timeoutMs: CALL_TIMEOUT_MS,
          signal: this.#signal,
        })
        if (answer.status === 200) {
          this.#expected.set(key, value)
          return { value: member.name, ms: performance.now() - killedAt }
        }
      } catch (error) {
        this.#signal.throwIfAborted()
        void error
      }
      await sleep(POLL_MS, this.#signal)
    }
  }

  async #start(id: string, args: readonly string[], via?: string): Promise<MemberProcess> {
    const startedAt = performance.now()
    const member = spawnMember({
      name: id,
      readyTimeoutMs: READY_TIMEOUT_MS,
      args: [
        '--island', 'demo',
        '--bind', '127.0.0.1:0',
        '--id', id,
        '--ping-ms', String(DEMO_PING_MS),
        '--timeout-ms', String(DEMO_TIMEOUT_MS),
        '--log-level', this.#options.logLevel,
        ...args,
      ],
    })
    this.#members.set(id, member)
    const url = await abortable(member.ready, this.#signal)
    const how = via === undefined ? 'founded the island' : `joined through ${via}`
    this.say(`${id} ${how} at ${url} in ${ms(performance.now() - startedAt)}`)
    return member
  }

  async #waitWhole(founder: MemberProcess): Promise<GovernmentView> {
    const ids = [...this.#members.keys()]
    const parliamentSize = Math.min(PARLIAMENT_SIZE, ids.length % 2 === 1 ? ids.length : ids.length - 1)
    return this.#poll(`a government of all ${ids.length} members`, async () => {
      const view = governmentOf(await this.#health(founder))
      if (view === null) return null
      const members = membersOf(view)
      const whole =
        ids.every((id) => members.includes(id) && view.naturalized.includes(id)) &&
        parliamentOf(view).length === parliamentSize
      return whole ? view : null
    })
  }

  async #writeKeys(prefix: string, count: number, through: readonly MemberProcess[]): Promise<void> {
    for (let index = 0; index < count; index += 1) {
      const member = through[index % through.length]
      if (member?.url == null) throw new DemoFailure('no member to write through')
      const key = `${prefix}-${String(index).padStart(4, '0')}`
      const value = { index, via: member.name }
      const answer = await callJson(`${member.url}/kv/${key}`, {
        method: 'PUT',
        body: value,
        timeoutMs: WRITE_TIMEOUT_MS,
        signal: this.#signal,
      })
      if (answer.status !== 200) {
        throw new DemoFailure(`PUT ${key} through ${member.name}: ${answer.status} ${JSON.stringify(answer.body)}`)
      }
      this.#expected.set(key, value)
    }
  }

  /** Every living member: one consistent read (a barrier), then every key one by one, then the whole maps compared. */
  async #readBack(): Promise<void> {
    const maps: Array<{ name: string; entries: unknown }> = []
    for (const member of this.#living()) {
      const whole = await this.#get(`${member.url}/kv?consistent=1`)
      maps.push({ name: member.name, entries: field(whole, 'entries') })
      for (const [key, value] of this.#expected) {
        const answer = await this.#get(`${member.url}/kv/${key}`)
        if (!isDeepStrictEqual(field(answer, 'value'), value)) {
          throw new DemoFailure(`${member.name} holds ${JSON.stringify(field(answer, 'value'))} at ${key}, expected ${JSON.stringify(value)}`)
        }
      }
    }
    const [reference, ...others] = maps
    for (const other of others) {
      if (!isDeepStrictEqual(other.entries, reference?.entries)) {
        throw new DemoFailure(`${other.name}'s map differs from ${reference?.name ?? '?'}'s`)
      }
    }
  }

  async #stopAll(): Promise<number> {
    const living = this.#living()
    const exits = await Promise.all(living.map((member) => member.stop(STOP_TIMEOUT_MS)))
    living.forEach((member) => this.#dead.add(member.name))
    const unclean = exits
      .map((exit, index) => ({ exit, name: living[index]?.name ?? '?' }))
      .filter(({ exit }) => exit.code !== 0)
    if (unclean.length > 0) {
      throw new DemoFailure(`unclean exit: ${unclean.map(({ name, exit }) => `${name} ${describeExit(exit)}`).join(', ')}`)
    }
    return living.length
  }

  #living(): MemberProcess[] {
    return [...this.#members.values()].filter((member) => !this.#dead.has(member.name) && member.url !== null)
  }

  async #health(member: MemberProcess): Promise<unknown> {
    try {
      const answer = await callJson(`${member.url}/health`, { timeoutMs: CALL_TIMEOUT_MS, signal: this.#signal })
      return answer.status === 200 ? answer.body : null
    } catch (error) {
      this.#signal.throwIfAborted()
      void error
      return null
    }
  }

  async #get(url: string): Promise<unknown> {
    const answer = await callJson(url, { timeoutMs: WRITE_TIMEOUT_MS, signal: this.#signal })
    if (answer.status !== 200) throw new DemoFailure(`GET ${url}: ${answer.status} ${JSON.stringify(answer.body)}`)
    return answer.body
  }

  async #poll<T>(what: string, probe: () => Promise<T | null>): Promise<T> {
    const until = performance.now() + STEP_TIMEOUT_MS
    while (performance.now() < until) {
      const value = await probe()
      if (value !== null) return value
      await sleep(POLL_MS, this.#signal)
    }
    throw new DemoFailure(`no ${what} within ${STEP_TIMEOUT_MS} ms`)
  }

  async #step<T>(what: string, action: () => Promise<T>): Promise<{ value: T; ms: number }> {
    const startedAt = performance.now()
    try {
      const value = await action()
      return { value, ms: performance.now() - startedAt }
    } catch (error) {
      if (this.#signal.aborted && !(error instanceof DemoFailure)) throw this.#signal.reason
      throw error instanceof DemoFailure ? new DemoFailure(`${what}: ${error.message}`) : error
    }
  }

  printLogs(): void {
    for (const member of this.#members.values()) {
      const tail = member.stderrTail()
      if (tail.length > 0) this.#io.stderr.write(`--- last log lines of ${member.name} ---\n${tail}\n`)
    }
  }

  /** Stops every member this demo started, whatever happened. */
  async cleanup(): Promise<void> {
    clearTimeout(this.#deadline)
    await Promise.all([...this.#members.values()].map((member) => member.stop(STOP_TIMEOUT_MS)))
  }
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined
}

function names(members: readonly MemberProcess[]): string {
  return members.map((member) => member.name).join(', ')
}

function ms(duration: number): string {
  return duration < 1000 ? `${Math.round(duration)} ms` : `${(duration / 1000).toFixed(2)} s`
}

function perWrite(duration: number, count: number): string {
  return `${(duration / count).toFixed(1)} ms per write`
}

function describeExit(exit: Exit): string {
  return exit.signal === null ? `exit ${exit.code ?? '?'}` : `killed by ${exit.signal}`
}

function sleep(duration: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, duration)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}
